// The PostgreSQL notification channel on which a committed change to what an authority context reads is announced
// with its zone id, or '*' for every zone (migration 0026; a migration run announces '*'). STS processes listen on it.
export const AUTHORITY_CHANNEL = 'caracal_authority';
