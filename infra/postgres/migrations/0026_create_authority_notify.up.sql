-- Announces every committed change to what authority_context_keyed reads without a graph (migrations 0021, 0025):
-- applications, resources, grants, revocations, and updates or deletions of authority sessions. Each changed row sends
-- its zone id on the channel caracal_authority; a TRUNCATE sends '*' (every zone). PostgreSQL delivers a notification
-- only when the writing transaction commits, and to every connection listening at that moment, so each STS process
-- that keeps authority contexts in memory (services/sts/src/authority/view.ts) drops the zone's entries when the
-- change becomes visible, whichever service or operator made it. A new authority session needs no notification: no
-- process can hold an entry for a session that did not exist, as only complete allowing contexts are kept.
-- The triggers fire ALWAYS, also in a session with session_replication_role = replica (a replication apply, a bulk
-- load), and the STS checks on every probe that all ten are in place with that setting (authority/view.ts).
-- Expand only (R-MIG-2): the previous release writes through the triggers and simply does not listen.

CREATE FUNCTION caracal.authority_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY INVOKER SET search_path = caracal, pg_temp
  AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('caracal_authority', '*');
    RETURN NULL;
  END IF;
  -- PostgreSQL folds identical notifications of one transaction into one.
  IF TG_OP <> 'INSERT' THEN
    PERFORM pg_notify('caracal_authority', OLD.zone_id::text);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_notify('caracal_authority', NEW.zone_id::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER applications_authority_changed AFTER INSERT OR UPDATE OR DELETE ON caracal.applications
  FOR EACH ROW EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER resources_authority_changed AFTER INSERT OR UPDATE OR DELETE ON caracal.resources
  FOR EACH ROW EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER grants_authority_changed AFTER INSERT OR UPDATE OR DELETE ON caracal.grants
  FOR EACH ROW EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER revocations_authority_changed AFTER INSERT OR UPDATE OR DELETE ON caracal.revocations
  FOR EACH ROW EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER authority_sessions_authority_changed AFTER UPDATE OR DELETE ON caracal.authority_sessions
  FOR EACH ROW EXECUTE FUNCTION caracal.authority_changed();

CREATE TRIGGER applications_authority_truncated AFTER TRUNCATE ON caracal.applications
  FOR EACH STATEMENT EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER resources_authority_truncated AFTER TRUNCATE ON caracal.resources
  FOR EACH STATEMENT EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER grants_authority_truncated AFTER TRUNCATE ON caracal.grants
  FOR EACH STATEMENT EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER revocations_authority_truncated AFTER TRUNCATE ON caracal.revocations
  FOR EACH STATEMENT EXECUTE FUNCTION caracal.authority_changed();
CREATE TRIGGER authority_sessions_authority_truncated AFTER TRUNCATE ON caracal.authority_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION caracal.authority_changed();

ALTER TABLE caracal.applications ENABLE ALWAYS TRIGGER applications_authority_changed;
ALTER TABLE caracal.resources ENABLE ALWAYS TRIGGER resources_authority_changed;
ALTER TABLE caracal.grants ENABLE ALWAYS TRIGGER grants_authority_changed;
ALTER TABLE caracal.revocations ENABLE ALWAYS TRIGGER revocations_authority_changed;
ALTER TABLE caracal.authority_sessions ENABLE ALWAYS TRIGGER authority_sessions_authority_changed;
ALTER TABLE caracal.applications ENABLE ALWAYS TRIGGER applications_authority_truncated;
ALTER TABLE caracal.resources ENABLE ALWAYS TRIGGER resources_authority_truncated;
ALTER TABLE caracal.grants ENABLE ALWAYS TRIGGER grants_authority_truncated;
ALTER TABLE caracal.revocations ENABLE ALWAYS TRIGGER revocations_authority_truncated;
ALTER TABLE caracal.authority_sessions ENABLE ALWAYS TRIGGER authority_sessions_authority_truncated;
