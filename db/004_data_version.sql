-- merx results database, schema version 4: the data version of a group (issue 18; docs/database.md
-- "Data versions").
--
-- A group's results hold only for the data it was computed on. data_version is the SHA-256 (hex) of the
-- datasets the group loads, as they enter its identity: each dataset's name, adapter, adapter options and the
-- SHA-256 of its annotation file (spec/plan.cpp, datasets_content). A corrected annotation sheet gives the
-- rerun spec new groups with a new data version; the leaderboard and these views never pool groups of
-- different versions. NULL = a group written before schema version 4 (version not recorded).
ALTER TABLE groups ADD COLUMN data_version TEXT
  CHECK (data_version IS NULL OR (length(data_version) = 64 AND data_version NOT GLOB '*[^0-9a-f]*'));

-- The views of 002_views.sql that identify a group or pool groups, again with data_version (same columns
-- otherwise; SQLite has no ALTER VIEW). Dropped dependants first.
DROP VIEW leaderboard_oracle;
DROP VIEW leaderboard;
DROP VIEW leaderboard_any;
DROP VIEW group_values;
DROP VIEW group_summary;
DROP VIEW cell_summary;

CREATE VIEW cell_summary AS
SELECT c.id AS cell_id, c.identity, e.name AS experiment, g.id AS group_id, g.protocol, g.datasets_json, g.data_version,
       c.backbone_name AS backbone, c.regularizer_name AS regularizer, c.augmenter_name AS augmenter,
       g.variant, g.point_index, g.assignments_json, g.seed, c.fold_id, c.target, c.status, c.selection,
       c.chosen_epoch,
       (SELECT value FROM metrics m WHERE m.cell_id = c.id AND m.scope = 'fold' AND m.name = 'uf1'
          AND m.class IS NULL) AS uf1,
       (SELECT value FROM metrics m WHERE m.cell_id = c.id AND m.scope = 'fold' AND m.name = 'uar'
          AND m.class IS NULL) AS uar,
       (SELECT value FROM metrics m WHERE m.cell_id = c.id AND m.scope = 'fold' AND m.name = 'accuracy'
          AND m.class IS NULL) AS accuracy,
       (SELECT support FROM metrics m WHERE m.cell_id = c.id AND m.scope = 'fold' AND m.name = 'uf1'
          AND m.class IS NULL) AS test_clips,
       (SELECT s.source_val_uf1 FROM cell_scores s WHERE s.cell_id = c.id) AS source_val_uf1,
       c.attempts, c.error, c.started_at, c.finished_at, c.prep_seconds, c.fit_seconds, c.train_seconds,
       c.eval_seconds, c.threads, c.host, c.device, c.git_commit
FROM cells c
JOIN groups g ON g.id = c.group_id
JOIN experiments e ON e.id = g.experiment_id;

CREATE VIEW group_summary AS
SELECT g.id AS group_id, g.identity, e.name AS experiment, g.protocol,
       json_extract(e.spec_json, '$.protocol.params') AS protocol_params, g.datasets_json, g.data_version,
       (SELECT max(backbone_name) FROM cells c WHERE c.group_id = g.id) AS backbone,
       (SELECT max(regularizer_name) FROM cells c WHERE c.group_id = g.id) AS regularizer,
       (SELECT max(augmenter_name) FROM cells c WHERE c.group_id = g.id) AS augmenter,
       g.variant, g.point_index, g.point_hash, g.assignments_json, g.seed,
       (SELECT max(selection) FROM cells c WHERE c.group_id = g.id) AS selection,
       EXISTS (SELECT 1 FROM cells c WHERE c.group_id = g.id AND c.selection = 'oracle') AS oracle,
       (SELECT count(*) FROM cells c WHERE c.group_id = g.id) AS cells,
       (SELECT count(*) FROM cells c WHERE c.group_id = g.id AND c.status = 'done') AS cells_done,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled' AND m.name = 'uf1'
          AND m.class IS NULL) AS pooled_uf1,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled' AND m.name = 'uar'
          AND m.class IS NULL) AS pooled_uar,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled' AND m.name = 'accuracy'
          AND m.class IS NULL) AS pooled_accuracy,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled'
          AND m.name = 'uf1_fold_mean' AND m.class IS NULL) AS uf1_fold_mean,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled'
          AND m.name = 'uar_fold_mean' AND m.class IS NULL) AS uar_fold_mean,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled'
          AND m.name = 'uf1_target_mean' AND m.class IS NULL) AS uf1_target_mean,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled'
          AND m.name = 'uar_target_mean' AND m.class IS NULL) AS uar_target_mean,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled' AND m.class IS NULL
          AND m.name = CASE WHEN g.protocol IN ('lodo', 'hde') THEN 'uf1_target_mean' ELSE 'uf1' END)
         AS headline_uf1,
       (SELECT value FROM metrics m WHERE m.group_id = g.id AND m.scope = 'pooled' AND m.class IS NULL
          AND m.name = CASE WHEN g.protocol IN ('lodo', 'hde') THEN 'uar_target_mean' ELSE 'uar' END)
         AS headline_uar,
       (SELECT avg(s.source_val_uf1) FROM cell_scores s WHERE s.group_id = g.id) AS source_val_uf1
FROM groups g
JOIN experiments e ON e.id = g.experiment_id;

CREATE VIEW group_values AS
SELECT gs.*, m.target AS target, m.name AS metric, m.value AS value,
       (SELECT avg(s.source_val_uf1) FROM cell_scores s WHERE s.group_id = gs.group_id AND s.target = m.target)
         AS target_source_val_uf1
FROM group_summary gs
JOIN metrics m ON m.group_id = gs.group_id AND m.scope = 'target' AND m.class IS NULL
              AND m.name IN ('uf1', 'uar', 'accuracy')
WHERE gs.cells_done = gs.cells AND gs.cells > 0
UNION ALL
SELECT gs.*, 'pooled', m.name, m.value, gs.source_val_uf1
FROM group_summary gs
JOIN metrics m ON m.group_id = gs.group_id AND m.scope = 'pooled' AND m.class IS NULL
              AND m.name IN ('uf1', 'uar', 'accuracy')
WHERE gs.cells_done = gs.cells AND gs.cells > 0
UNION ALL
SELECT gs.*, 'mean', CASE m.name WHEN 'uf1_target_mean' THEN 'uf1' ELSE 'uar' END, m.value, gs.source_val_uf1
FROM group_summary gs
JOIN metrics m ON m.group_id = gs.group_id AND m.scope = 'pooled' AND m.class IS NULL
              AND m.name IN ('uf1_target_mean', 'uar_target_mean')
WHERE gs.cells_done = gs.cells AND gs.cells > 0 AND gs.protocol IN ('lodo', 'hde');

-- Pools seed values within one data version only.
CREATE VIEW leaderboard_any AS
SELECT oracle, protocol, protocol_params, datasets_json, data_version, backbone, regularizer, augmenter, variant,
       min(point_index) AS point_index, point_hash, assignments_json, target, metric,
       avg(value) AS mean,
       CASE WHEN count(value) >= 2 THEN
         sqrt(max(0.0, (sum(value * value) - count(value) * avg(value) * avg(value)) / (count(value) - 1)))
         / sqrt(count(value)) END AS se,
       count(value) AS n_seeds,
       avg(target_source_val_uf1) AS source_val_uf1,
       group_concat(DISTINCT experiment) AS experiments
FROM group_values
GROUP BY oracle, protocol, protocol_params, datasets_json, data_version, backbone, regularizer, augmenter, variant,
         point_hash, target, metric;

CREATE VIEW leaderboard AS
SELECT protocol, protocol_params, datasets_json, data_version, backbone, regularizer, augmenter, variant, point_index,
       point_hash, assignments_json, target, metric, mean, se, n_seeds, source_val_uf1, experiments
FROM leaderboard_any WHERE oracle = 0;

CREATE VIEW leaderboard_oracle AS
SELECT protocol, protocol_params, datasets_json, data_version, backbone, regularizer, augmenter, variant, point_index,
       point_hash, assignments_json, target, metric, mean, se, n_seeds, source_val_uf1, experiments
FROM leaderboard_any WHERE oracle = 1;
