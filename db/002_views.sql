-- merx results database, schema version 2: views for people and other SQLite tools, and the index the
-- leaderboard reads through (docs/database.md "Views" and "SQL cookbook").
--
-- Views never change data; they only name queries over the tables of 001_initial.sql. Standard errors use
-- sqrt(), which needs an SQLite built with math functions (3.35+, SQLITE_ENABLE_MATH_FUNCTIONS; Debian's
-- is); elsewhere only selecting those columns fails ("no such function: sqrt").

-- Whole-set group metrics by name at pooled / target scope: what the leaderboard reads (10,000 cells,
-- 1,000,000 metric rows: an index range per metric name instead of a scan; bench/db_leaderboard.cpp).
CREATE INDEX metrics_group_headline ON metrics (name, scope, group_id, target)
  WHERE group_id IS NOT NULL AND class IS NULL;

-- A done cell's source-validation score: its selection curve ('source_val_uf1', or 'loo_source_uf1' for
-- leave-one-source-out selection) at the epoch it reports (cells.chosen_epoch). Oracle and 'last'
-- selection have none.
CREATE VIEW cell_scores AS
SELECT c.id AS cell_id, c.group_id, c.target, v.name AS score_name, v.value AS source_val_uf1
FROM cells c
JOIN curves v ON v.cell_id = c.id AND v.epoch = c.chosen_epoch
             AND v.name IN ('source_val_uf1', 'loo_source_uf1')
WHERE c.status = 'done';

-- One row per cell: where it belongs, its state, its fold-scope UF1 / UAR / accuracy, its
-- source-validation score, timings and plugins.
CREATE VIEW cell_summary AS
SELECT c.id AS cell_id, c.identity, e.name AS experiment, g.id AS group_id, g.protocol, g.datasets_json,
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

-- One row per group (sweep point x seed value): the method, progress, pooled metrics, the means over folds
-- and over targets, the protocol's headline (pooled uf1/uar for loso and kfold_subject, the mean over
-- targets for lodo and hde) and the mean source-validation score of its cells. oracle = 1 when its cells
-- chose their epoch on the test data.
CREATE VIEW group_summary AS
SELECT g.id AS group_id, g.identity, e.name AS experiment, g.protocol,
       json_extract(e.spec_json, '$.protocol.params') AS protocol_params, g.datasets_json,
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

-- Long format of every finished group's whole-set values: target = a dataset (target scope), 'pooled'
-- (all folds concatenated) or 'mean' (lodo/hde: the unweighted mean over targets); metric = 'uf1' | 'uar'
-- | 'accuracy'; source_val_uf1 = mean score of the group's cells on that target ('pooled'/'mean': all).
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

-- Every sweep point of every method, aggregated over seed values: (protocol, protocol params, dataset list,
-- method = backbone + regularizer + augmenter + variant, sweep point, target, metric) -> mean, standard
-- error (sample SD / sqrt(n)) and n seeds, plus the mean source-validation score a selection would use.
-- This is NOT a selection: `merx db leaderboard` picks one point per method and target by
-- source_val_uf1. Oracle-selected groups are in leaderboard_oracle only.
CREATE VIEW leaderboard_any AS
SELECT oracle, protocol, protocol_params, datasets_json, backbone, regularizer, augmenter, variant,
       min(point_index) AS point_index, point_hash, assignments_json, target, metric,
       avg(value) AS mean,
       CASE WHEN count(value) >= 2 THEN
         sqrt(max(0.0, (sum(value * value) - count(value) * avg(value) * avg(value)) / (count(value) - 1)))
         / sqrt(count(value)) END AS se,
       count(value) AS n_seeds,
       avg(target_source_val_uf1) AS source_val_uf1,
       group_concat(DISTINCT experiment) AS experiments
FROM group_values
GROUP BY oracle, protocol, protocol_params, datasets_json, backbone, regularizer, augmenter, variant,
         point_hash, target, metric;

CREATE VIEW leaderboard AS
SELECT protocol, protocol_params, datasets_json, backbone, regularizer, augmenter, variant, point_index,
       point_hash, assignments_json, target, metric, mean, se, n_seeds, source_val_uf1, experiments
FROM leaderboard_any WHERE oracle = 0;

CREATE VIEW leaderboard_oracle AS
SELECT protocol, protocol_params, datasets_json, backbone, regularizer, augmenter, variant, point_index,
       point_hash, assignments_json, target, metric, mean, se, n_seeds, source_val_uf1, experiments
FROM leaderboard_any WHERE oracle = 1;

-- Per-class precision / recall / F1 / support of every cell (scope 'fold') and group ('pooled', 'target'),
-- one row per (owner, scope, target, class). NULL = undefined (the metrics row's reason says why).
CREATE VIEW per_class AS
SELECT e.name AS experiment, g.id AS group_id, m.cell_id, c.fold_id, g.protocol, g.variant, g.point_index,
       g.seed, m.scope, m.target, m.class,
       max(CASE WHEN m.name = 'precision' THEN m.value END) AS precision,
       max(CASE WHEN m.name = 'recall' THEN m.value END) AS recall,
       max(CASE WHEN m.name = 'f1' THEN m.value END) AS f1,
       max(m.support) AS support
FROM metrics m
LEFT JOIN cells c ON c.id = m.cell_id
JOIN groups g ON g.id = IFNULL(m.group_id, c.group_id)
JOIN experiments e ON e.id = g.experiment_id
WHERE m.class IS NOT NULL AND m.name IN ('precision', 'recall', 'f1')
GROUP BY m.cell_id, m.group_id, m.scope, m.target, m.class;
