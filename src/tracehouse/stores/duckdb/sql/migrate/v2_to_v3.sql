-- Upgrade a schema version 2 store to version 3, which adds the OTLP fields version 2 dropped: span
-- flags, the instrumentation scope's attributes and schema URL, and the resource's schema URL (link
-- flags travel inside `links`); and retention_pin_data, which the schema creates. Columns are added, not copied: the upgrade takes no time whatever the
-- store's size, and the spans stored before it keep null in the new columns ("not recorded", which
-- the APIs leave out rather than invent). connection.py runs it in one transaction, then records the
-- new version. The views are redefined by the schema, included last.
ALTER TABLE span_data ADD COLUMN flags UINTEGER;
ALTER TABLE span_data ADD COLUMN scope_attributes VARIANT;
ALTER TABLE span_data ADD COLUMN scope_schema_url VARCHAR;
ALTER TABLE span_data ADD COLUMN resource_schema_url VARCHAR;

-- include: schema
