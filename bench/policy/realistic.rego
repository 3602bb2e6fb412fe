# A zone policy set of the size operators write (20 rules), measured by bench/policy.mjs: it narrows the built-in
# contract by the application's labels (team, region, tier), the resource, the scopes asked, the hour and weekday,
# and the delegation depth. data.json holds the zone's teams, resource regions and lists. Every rule that objects
# adds a reason; the set allows when none does, and names scopes that need an approver first in `step_up`.
package caracal

import rego.v1

scopes := input.context.requested_scopes

labels := {l | some l in input.principal.labels}

identifier := input.resource.identifier

hour := input.context.time.utc.hour

weekday := input.context.time.utc.weekday

label_value(prefix) := trim_prefix(l, prefix) if {
	some l in labels
	startswith(l, prefix)
}

team := label_value("team:")

region := label_value("region:")

writes := {s | some s in scopes; endswith(s, ":write")}

business_hours if {
	hour >= data.business_hours.from
	hour < data.business_hours.to
}

team_resource if {
	some pattern in data.teams[team].resources
	glob.match(pattern, ["/"], identifier)
}

in_catalogue(scope) if {
	some pattern in data.teams[team].scopes
	glob.match(pattern, [":"], scope)
}

# 1-4: who asks
deny contains "the application is quarantined" if "quarantined" in labels

deny contains "the application has no team: label" if not team

deny contains "the application is on the zone's block list" if input.principal.id in data.blocked_principals

deny contains sprintf("team %s is not known in this zone", [team]) if not data.teams[team]

# 5-7: what it asks for
deny contains sprintf("team %s may not use %s", [team, identifier]) if {
	data.teams[team]
	not team_resource
}

deny contains sprintf("scope %s is outside team %s's catalogue", [s, team]) if {
	data.teams[team]
	some s in scopes
	not in_catalogue(s)
}

deny contains "admin scopes are never minted" if {
	some s in scopes
	endswith(s, ":admin")
}

# 8-9: how much
deny contains sprintf("more than %d scopes in one mandate", [data.max_scopes]) if count(scopes) > data.max_scopes

deny contains sprintf("delegation deeper than %d hops", [data.max_delegation_hops]) if count(input.delegation_edge.path) > data.max_delegation_hops

# 10-13: writes
deny contains "write scopes need the tier:trusted label" if {
	count(writes) > 0
	not "tier:trusted" in labels
}

deny contains "contractors only read" if {
	count(writes) > 0
	"contractor" in labels
}

deny contains "writes only between 06:00 and 20:00 UTC" if {
	count(writes) > 0
	not business_hours
}

deny contains "no writes at weekends" if {
	count(writes) > 0
	weekday in {0, 6}
}

# 14-16: where
deny contains sprintf("%s lives in region %s", [identifier, r]) if {
	r := data.resources[identifier].region
	not region == r
}

deny contains "payments scopes need the pci label" if {
	some s in scopes
	startswith(s, "payments:")
	not "pci" in labels
}

deny contains "production resources need the env:prod label" if {
	contains(identifier, "prod")
	not "env:prod" in labels
}

# 17-18: agents and delegation
deny contains "agent sessions need the agents:allowed label" if {
	input.principal.agent_session_id != null
	not "agents:allowed" in labels
}

deny contains "a delegated mint needs an agent session" if {
	input.delegation_edge != null
	input.principal.agent_session_id == null
}

# 19: scheduled maintenance
deny contains sprintf("%s is in maintenance", [identifier]) if {
	some w in data.maintenance
	w.resource == identifier
	w.weekday == weekday
	hour >= w.from_hour
	hour < w.to_hour
}

# 20: scopes that need an approver before they are minted
step_up contains s if {
	some s in scopes
	s in data.step_up_scopes
}

allow := {"allow": count(deny) == 0, "reasons": sort(deny), "step_up": sort(step_up)}
