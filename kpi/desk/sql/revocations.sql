-- Every revocation (token ids, and scopes revoked as of a moment); read from the snapshot.
select token_id, scope, revoked_at
from meta.desk_revocations
