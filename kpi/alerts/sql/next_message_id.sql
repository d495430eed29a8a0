-- The id of a new outbox message.
select nextval('alerts.message_ids') as message_id
