-- merx results database, schema version 1.
--
-- This file is compiled into merx (cmake/EmbedSql.cmake) and applied by the store, never read at run time.
-- Rules for db/NNN_name.sql (see docs/database.md):
--   * The store runs each file inside BEGIN EXCLUSIVE, then sets PRAGMA user_version = NNN and logs a row
--     in schema_log in the same transaction, so a file runs exactly once per database even when many
--     processes open a new database at once. Files therefore contain no BEGIN/COMMIT and no PRAGMA
--     user_version.
--   * A released file is never edited; every change to the schema is a new, higher-numbered file.
--
-- Conventions used by every table:
--   * Times are UTC text in ISO 8601 with milliseconds, 'YYYY-MM-DDTHH:MM:SS.sssZ' (what
--     strftime('%Y-%m-%dT%H:%M:%fZ', 'now') gives); durations are REAL seconds.
--   * Hashes are lower-case hexadecimal SHA-256 text (64 characters) unless stated otherwise.
--   * "... JSON" columns hold one JSON text (checked with json_valid).
--   * Class names are the protocol's label names (e.g. 'negative', 'positive', 'surprise'), never indices.
--   * Rows that belong to a cell or a group are deleted with it (ON DELETE CASCADE).

-- 'MERX' in ASCII (0x4D455258): marks the file as a merx results database (bytes 68..71 of the header).
PRAGMA application_id = 1296388696;

-- One row per applied migration; written by the store in the migration's own transaction, so its row count
-- equals the number of migrations ever applied (a migration that ran twice would show up here).
CREATE TABLE schema_log (
  version      INTEGER PRIMARY KEY,  -- NNN of db/NNN_name.sql = PRAGMA user_version after it ran
  file         TEXT NOT NULL,        -- 'NNN_name.sql'
  applied_at   TEXT NOT NULL,        -- UTC time the migration committed
  merx_version TEXT NOT NULL         -- version of the merx that applied it, e.g. '0.1.0'
);

-- An experiment = one spec file as run. Re-running the same spec finds the same row (by spec_hash).
CREATE TABLE experiments (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,                          -- the spec's experiment name
  spec_json  TEXT NOT NULL CHECK (json_valid(spec_json)),  -- the fully resolved spec (defaults filled in)
  spec_hash  TEXT NOT NULL UNIQUE,                   -- SHA-256 of the canonical spec; identity of the row
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))  -- first time it was stored
);
CREATE INDEX experiments_by_name ON experiments (name);

-- A group = one protocol run: experiment x sweep point x seed value. It holds all folds whose predictions
-- pooled metrics are computed over. protocol and datasets are stored so that a leaderboard never mixes runs
-- of different protocols or dataset lists.
CREATE TABLE groups (
  id               INTEGER PRIMARY KEY,
  experiment_id    INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  identity         TEXT NOT NULL UNIQUE,  -- hash of (experiment, sweep point, seed value); identity of the row
  point_index      INTEGER NOT NULL CHECK (point_index >= 0),  -- position of the sweep point in the sweep, 0-based
  variant          TEXT NOT NULL,         -- name of the sweep point's variant (e.g. 'erm', 'brl_no_js')
  point_hash       TEXT NOT NULL,         -- hash of the sweep point's resolved assignments
  assignments_json TEXT NOT NULL CHECK (json_valid(assignments_json)),  -- {"param.path": value, ...} of the point
  seed             INTEGER NOT NULL,      -- the seed value of the spec's seed list (not the cell seed)
  protocol         TEXT NOT NULL,         -- 'lodo' | 'hde' | 'loso' | 'kfold_subject' | ...
  datasets_json    TEXT NOT NULL CHECK (json_valid(datasets_json)),  -- JSON array of dataset names, spec order
  created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX groups_by_experiment ON groups (experiment_id, point_index, seed);

-- A cell = one (protocol fold, seed value, sweep point): one model trained and evaluated. status is the only
-- state of the queue: queued -> running -> done | failed | interrupted.
CREATE TABLE cells (
  id          INTEGER PRIMARY KEY,
  identity    TEXT NOT NULL UNIQUE,    -- hash of everything that determines the cell's result
  group_id    INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  fold_id     TEXT NOT NULL,           -- protocol fold, e.g. 'samm' (lodo) or 'casme2/sub01' (loso)
  target      TEXT NOT NULL,           -- dataset the fold is tested on; several joined by '+' (kfold_subject)
  -- Cell seed: an unsigned 64-bit value stored as its two's-complement signed 64-bit INTEGER (values >= 2^63
  -- are negative here). printf('%016x', cell_seed) shows the unsigned value in hex.
  cell_seed   INTEGER NOT NULL,
  status      TEXT NOT NULL DEFAULT 'queued'
              CHECK (status IN ('queued', 'running', 'done', 'failed', 'interrupted')),
  error       TEXT,                    -- failed/interrupted: what went wrong (NULL otherwise)
  attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- times the cell was claimed to run
  queued_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  started_at  TEXT,                    -- UTC time of the latest claim (or the run's own start)
  finished_at TEXT,                    -- UTC time the latest run ended
  prep_seconds  REAL,                  -- wall seconds building inputs (recipes, caches)
  fit_seconds   REAL,                  -- wall seconds fitting the augmenter
  train_seconds REAL,                  -- wall seconds training
  eval_seconds  REAL,                  -- wall seconds predicting and computing metrics
  threads     INTEGER CHECK (threads IS NULL OR threads > 0),  -- intra-op CPU threads the run used
  host        TEXT,                    -- host name of the machine that ran it
  device      TEXT,                    -- 'cpu', 'cuda:0', ...
  git_commit  TEXT,                    -- merx source commit ('-dirty' suffix when modified)
  merx_version     TEXT,               -- merx version, e.g. '0.1.0'
  libtorch_version TEXT,               -- LibTorch version, e.g. '2.1.0'
  selection    TEXT,                   -- model selection method: 'last' | 'source_val' | 'loo_source' | 'oracle'
  chosen_epoch INTEGER CHECK (chosen_epoch IS NULL OR chosen_epoch >= 0),  -- epoch of the reported checkpoint
  -- The three plugins that made the model: registry name, behaviour version, SHA-256 of the .so file.
  backbone_name       TEXT,
  backbone_version    TEXT,
  backbone_sha256     TEXT,
  regularizer_name    TEXT,
  regularizer_version TEXT,
  regularizer_sha256  TEXT,
  augmenter_name      TEXT,
  augmenter_version   TEXT,
  augmenter_sha256    TEXT,
  validation_split_json TEXT CHECK (validation_split_json IS NULL OR json_valid(validation_split_json))
                        -- samples held out for selection (NULL when the method holds none out)
);
CREATE INDEX cells_by_group_status ON cells (group_id, status);
CREATE INDEX cells_by_status ON cells (status);

-- Metric values of a cell (its own test fold) or of a group (computed over its folds): exactly one of
-- cell_id / group_id is set. A metric that cannot be computed is stored with value NULL and a reason,
-- never as 0 or NaN (SQLite itself stores a NaN as NULL).
CREATE TABLE metrics (
  id                INTEGER PRIMARY KEY,
  cell_id           INTEGER REFERENCES cells (id) ON DELETE CASCADE,
  group_id          INTEGER REFERENCES groups (id) ON DELETE CASCADE,
  scope             TEXT NOT NULL CHECK (scope IN ('fold', 'target', 'pooled')),
                    -- fold: one fold's predictions; target: all predictions on one target dataset;
                    -- pooled: all folds' predictions concatenated (the MEGC way)
  target            TEXT,             -- dataset name when scope = 'target', NULL otherwise
  name              TEXT NOT NULL,    -- 'uf1', 'uar', 'accuracy', 'f1', 'recall', 'precision', 'uf1_fold_mean', ...
  class             TEXT,             -- class name for per-class metrics, NULL for whole-set metrics
  value             REAL,             -- in [0, 1] for rates; NULL when undefined (see reason)
  reason            TEXT,             -- why value is NULL (may also annotate a value)
  support           INTEGER NOT NULL CHECK (support >= 0),  -- per-class: n_c; whole-set: predictions evaluated
  n_classes_defined INTEGER NOT NULL CHECK (n_classes_defined >= 0),  -- classes the averaged metrics counted
  CHECK ((cell_id IS NULL) <> (group_id IS NULL)),
  CHECK (value IS NOT NULL OR reason IS NOT NULL),
  CHECK ((scope = 'target') = (target IS NOT NULL))
);
CREATE INDEX metrics_by_cell ON metrics (cell_id, scope, name);
CREATE INDEX metrics_by_group ON metrics (group_id, scope, name);
-- At most one row per (owner, scope, target, name, class); NULLs never compare equal, hence the IFNULLs.
CREATE UNIQUE INDEX metrics_unique ON metrics (
  IFNULL(cell_id, -1), IFNULL(group_id, -1), scope, IFNULL(target, ''), name, IFNULL(class, ''));

-- Confusion matrices of a cell or of a group (exactly one owner), in the same scopes as metrics; only
-- non-zero counts need to be stored.
CREATE TABLE confusion (
  id              INTEGER PRIMARY KEY,
  cell_id         INTEGER REFERENCES cells (id) ON DELETE CASCADE,
  group_id        INTEGER REFERENCES groups (id) ON DELETE CASCADE,
  scope           TEXT NOT NULL CHECK (scope IN ('fold', 'target', 'pooled')),
  target          TEXT,              -- dataset name when scope = 'target', NULL otherwise
  true_class      TEXT NOT NULL,     -- the label
  predicted_class TEXT NOT NULL,     -- the prediction
  count           INTEGER NOT NULL CHECK (count >= 0),  -- number of samples
  CHECK ((cell_id IS NULL) <> (group_id IS NULL)),
  CHECK ((scope = 'target') = (target IS NOT NULL))
);
CREATE INDEX confusion_by_cell ON confusion (cell_id, scope);
CREATE INDEX confusion_by_group ON confusion (group_id, scope);
CREATE UNIQUE INDEX confusion_unique ON confusion (
  IFNULL(cell_id, -1), IFNULL(group_id, -1), scope, IFNULL(target, ''), true_class, predicted_class);

-- One row per evaluated test sample of a cell (pooled metrics are recomputed from these).
CREATE TABLE predictions (
  id                 INTEGER PRIMARY KEY,
  cell_id            INTEGER NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
  sample_key         TEXT NOT NULL,  -- global sample id, 'dataset/subject/clip'
  true_class         TEXT NOT NULL,
  predicted_class    TEXT NOT NULL,
  probabilities_json TEXT CHECK (probabilities_json IS NULL OR json_valid(probabilities_json)),
                     -- {"class": probability, ...} (softmax of the shared head); NULL if not available
  UNIQUE (cell_id, sample_key)
);

-- Training curves of a cell: one value per (name, epoch), e.g. 'loss', 'loss_js', 'source_val_uf1'.
CREATE TABLE curves (
  id      INTEGER PRIMARY KEY,
  cell_id INTEGER NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
  epoch   INTEGER NOT NULL CHECK (epoch >= 0),  -- 0-based epoch the value was measured after
  name    TEXT NOT NULL,
  value   REAL,                                 -- NULL = not a number (e.g. a diverged loss)
  UNIQUE (cell_id, name, epoch)
);

-- Plugin-specific figures of a cell (e.g. the au_gan quality figures), one JSON document per name.
CREATE TABLE artifacts (
  id      INTEGER PRIMARY KEY,
  cell_id INTEGER NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
  name    TEXT NOT NULL,                                -- '<plugin>.<figure>', e.g. 'au_gan.quality'
  json    TEXT NOT NULL CHECK (json_valid(json)),
  UNIQUE (cell_id, name)
);
