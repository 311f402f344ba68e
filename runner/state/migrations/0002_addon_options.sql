-- Add-on options (e.g. Kafka's plaintext), as a JSON object.
ALTER TABLE addons ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
