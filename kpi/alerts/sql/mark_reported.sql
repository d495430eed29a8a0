-- These failed deliveries are now in a report to 督查局 (or were a report themselves).
update alerts.deliveries
set reported_at = $now
where delivery_key in (select unnest($keys))
