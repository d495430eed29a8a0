-- Layer: alerts. The department's personal link carried by a delivery (the last WeCom markdown
-- part, or the email), minted at its first attempt. Only the token's id and its validity are
-- kept, never the token: every later attempt (a retry, the marked （重发）) signs the same id and
-- times again with the desk secret, so a part is sent with the same text each time, and
-- `kpi desk revoke <id>` revokes exactly the link one message carried.
alter table alerts.deliveries add column if not exists link_token_id varchar;
alter table alerts.deliveries add column if not exists link_issued_at timestamp;
alter table alerts.deliveries add column if not exists link_expires_at timestamp;

comment on column alerts.deliveries.link_token_id is '本段所带本单位专用链接的令牌编号（不含令牌本身；可用 kpi desk revoke 吊销）；空则未带链接';
comment on column alerts.deliveries.link_issued_at is '该链接的签发时间（重发时按同一编号和时间重新签名，内容不变）';
comment on column alerts.deliveries.link_expires_at is '该链接的失效时间';
