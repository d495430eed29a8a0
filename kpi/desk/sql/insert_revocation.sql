-- One revocation: a token id, or a scope (every token of it issued before revoked_at).
insert into meta.desk_revocations (revoked_at, token_id, scope, actor, note)
values ($revoked_at, $token_id, $scope, $actor, $note)
