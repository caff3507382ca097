-- merx results database, schema version 3: saved models (issue 17; docs/database.md "Saved models").
--
-- A done cell's selected checkpoint (backbone + head, with the recipe, label map and plugin it needs) is
-- written as one file <database>-models/<sha256>.mxm beside the database, named by the SHA-256 of its bytes
-- (content-addressed: the name proves the content). The cell row only references it. NULL = no model saved
-- (failed cells, `save_models: false`, or cells run before version 3).
ALTER TABLE cells ADD COLUMN model_sha256 TEXT
  CHECK (model_sha256 IS NULL OR (length(model_sha256) = 64 AND model_sha256 NOT GLOB '*[^0-9a-f]*'));
ALTER TABLE cells ADD COLUMN model_bytes INTEGER CHECK (model_bytes IS NULL OR model_bytes > 0);
CREATE INDEX cells_by_model ON cells (model_sha256) WHERE model_sha256 IS NOT NULL;
