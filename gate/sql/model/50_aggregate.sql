-- Aggregation across traces (metrics.md, "Several traces"): per driver and metric, the
-- configured statistic (cfg_run.aggregate: max, median, mean or min) over the traces in which
-- the driver appeared and the metric could be computed. Median and mean are rounded to whole
-- bytes.

-- driver_metrics_aggregated: the figures the rules judge.
--   driver        driver name, (kernel), (unattributed), or (total)
--   metric        metric name (gate/metrics.py)
--   value         the configured statistic over the traces in which it was computed
--   traces_seen   traces in which the metric was computed for the driver
CREATE OR REPLACE TABLE driver_metrics_aggregated AS
SELECT
    m.driver,
    m.metric,
    CASE c.aggregate
        WHEN 'max' THEN max(m.value)::DOUBLE
        WHEN 'min' THEN min(m.value)::DOUBLE
        WHEN 'mean' THEN round(avg(m.value))
        ELSE round(median(m.value::DOUBLE))
    END AS value,
    count(*) AS traces_seen
FROM driver_metrics AS m, cfg_run AS c
GROUP BY m.driver, m.metric, c.aggregate;

-- driver_presence: in how many traces each driver appeared at all.
--   driver        driver name, (kernel) or (unattributed)
--   traces_seen   traces in which the driver appeared (an allocation, an image or code pages)
CREATE OR REPLACE TABLE driver_presence AS
SELECT driver, count(DISTINCT trace_id) AS traces_seen
FROM _trace_drivers
GROUP BY driver;
