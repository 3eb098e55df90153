DROP TABLE events;
ALTER TABLE tenants DROP COLUMN event_seq;
