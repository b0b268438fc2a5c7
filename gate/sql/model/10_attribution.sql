-- Attribution: which driver each pool allocation belongs to (metrics.md, "Which driver an
-- allocation belongs to"). Rules in order: tag-rule, stack, pooltag, kernel, none.
--
-- Inputs: pool_allocations, stack_frame_rows and frame_modules (store) and the run's
-- configuration tables cfg_skip_modules(module), cfg_tag_rules(priority, pattern, driver) and
-- cfg_pooltag(priority, pattern, driver, exact) from pooltag.txt files.

-- The first frame of each stack, innermost first, whose image is known and not skipped.
-- Frames in no known image are passed over: they cannot name a driver. The keep test is made
-- once per module name (frame_modules), and frames are matched to the kept modules by number:
-- a real boot has tens of millions of frame rows, a few hundred modules and far fewer stacks.
-- The call site is that of the first kept frame that has a name or an offset, as it has always
-- been read: a frame known by its module alone (a WPA export can say just 'a.sys') has no text
-- of its own. Its function is taken from the first kept frame with a function, when that is
-- the call site's frame: a string is kept per stack only where symbols named one.
CREATE OR REPLACE TABLE _stack_attribution AS
WITH kept_modules AS (
    SELECT trace_id, module_id, module
    FROM frame_modules
    WHERE module <> '' AND module NOT IN (SELECT module FROM cfg_skip_modules)
),
firsts AS (
    SELECT
        f.trace_id,
        f.stack_id,
        arg_min(f.module_id, f.frame_index) AS module_id,
        min(f.frame_index) AS frame_index,
        min(f.frame_index) FILTER (WHERE f.function IS NOT NULL OR f.rva_bytes IS NOT NULL)
            AS site_index,
        arg_min(f.module_id, f.frame_index)
            FILTER (WHERE f.function IS NOT NULL OR f.rva_bytes IS NOT NULL) AS site_module_id,
        arg_min_null(f.rva_bytes, f.frame_index)
            FILTER (WHERE f.function IS NOT NULL OR f.rva_bytes IS NOT NULL) AS site_rva_bytes,
        min(f.frame_index) FILTER (WHERE f.function IS NOT NULL) AS named_index,
        arg_min(f.function, f.frame_index) FILTER (WHERE f.function IS NOT NULL) AS named
    FROM stack_frame_rows AS f
    JOIN kept_modules AS k ON k.trace_id = f.trace_id AND k.module_id = f.module_id
    GROUP BY f.trace_id, f.stack_id
)
SELECT
    s.trace_id,
    s.stack_id,
    -- driver that owns the first non-skipped frame (stacks with none have no row)
    m.module,
    -- that frame's position in the stack (0 is the innermost frame)
    s.frame_index,
    -- that frame as 'module!function' or 'module+0xRVA': the allocating call site
    CASE WHEN s.named_index = s.site_index THEN sm.module || '!' || s.named
         ELSE sm.module || '+0x' || lower(hex(s.site_rva_bytes)) END AS call_site
FROM firsts AS s
JOIN kept_modules AS m ON m.trace_id = s.trace_id AND m.module_id = s.module_id
LEFT JOIN kept_modules AS sm ON sm.trace_id = s.trace_id AND sm.module_id = s.site_module_id;

-- frames: every frame of every stack with its name, as the reports show frames.
--   trace_id      the trace (traces.trace_id)
--   stack_id      the stack (allocations.stack_id)
--   frame_index   position in the stack, 0 the innermost (the allocator)
--   module        the frame's image, '' when the address is in no known image
--   rva_bytes     offset into the image, NULL when unresolved
--   function      the function from the build's PDB, NULL without one
--   frame         'module!function', 'module+0xRVA', or the address '0x…' in no known image
-- (hex() spells a number as printf('%x') does, two's complement for negatives, at a third of
-- its cost: the reports' stack trees name every frame of their stacks.)
CREATE OR REPLACE VIEW frames AS
SELECT
    trace_id,
    stack_id,
    frame_index,
    module,
    rva_bytes,
    function,
    CASE WHEN function IS NOT NULL THEN module || '!' || function
         WHEN module <> '' AND rva_bytes IS NOT NULL
             THEN module || '+0x' || lower(hex(rva_bytes))
         ELSE '0x' || lower(hex(address)) END AS frame
FROM stack_frames;

-- The first tag rule (in budget order) whose pattern matches each tag seen.
CREATE OR REPLACE TABLE _tag_rule_match AS
SELECT t.tag, arg_min(r.driver, r.priority) AS driver
FROM (SELECT DISTINCT tag FROM pool_allocations) AS t
JOIN cfg_tag_rules AS r ON t.tag GLOB r.pattern
GROUP BY t.tag;

-- The pooltag.txt entry of each tag seen: an exact entry, else the first matching wildcard.
CREATE OR REPLACE TABLE _pooltag_match AS
SELECT t.tag, arg_min(p.driver, p.priority) AS driver
FROM (SELECT DISTINCT tag FROM pool_allocations) AS t
JOIN cfg_pooltag AS p ON (p.exact AND t.tag = p.pattern) OR (NOT p.exact AND t.tag GLOB p.pattern)
GROUP BY t.tag;

-- allocations: every pool allocation with its driver and the rule that chose it.
--   trace_id      the trace (traces.trace_id)
--   alloc_seq     trace order of the allocation
--   alloc_s       seconds from trace start
--   free_seq      trace order of the free (or of the reallocation that closed it), NULL if none
--   free_s        free time; NULL: outstanding at the end of the trace
--   free_kind     freed | lost | none
--   pool_type     POOL_TYPE as logged
--   paged         pool_type & 1
--   session       pool_type & 32
--   nx            pool_type & 512
--   tag           pool tag
--   size_bytes    allocated bytes
--   address       allocation address
--   session_id    session id, NULL outside session pool
--   stack_id      the allocation's stack (stack_frames.stack_id), NULL when none was logged
--   driver        lower-case driver file name, or (kernel) / (unattributed)
--   attribution   the rule that chose the driver: tag-rule | stack | pooltag | kernel | none
--   call_site     the attributing frame, 'module!function' or 'module+0xRVA', when the stack
--                 chose the driver
CREATE OR REPLACE VIEW allocations AS
SELECT
    a.trace_id,
    a.alloc_seq,
    a.alloc_s,
    a.free_seq,
    a.free_s,
    a.free_kind,
    a.pool_type,
    a.paged,
    a.session,
    a.nx,
    a.tag,
    a.size_bytes,
    a.address,
    a.session_id,
    a.stack_id,
    CASE
        WHEN tr.driver IS NOT NULL THEN tr.driver
        WHEN sa.module IS NOT NULL THEN sa.module
        WHEN pt.driver IS NOT NULL THEN pt.driver
        WHEN a.stack_id IS NOT NULL THEN '(kernel)'
        ELSE '(unattributed)'
    END AS driver,
    CASE
        WHEN tr.driver IS NOT NULL THEN 'tag-rule'
        WHEN sa.module IS NOT NULL THEN 'stack'
        WHEN pt.driver IS NOT NULL THEN 'pooltag'
        WHEN a.stack_id IS NOT NULL THEN 'kernel'
        ELSE 'none'
    END AS attribution,
    CASE WHEN tr.driver IS NULL THEN sa.call_site END AS call_site
FROM pool_allocations AS a
LEFT JOIN _tag_rule_match AS tr ON tr.tag = a.tag
LEFT JOIN _stack_attribution AS sa ON sa.trace_id = a.trace_id AND sa.stack_id = a.stack_id
LEFT JOIN _pooltag_match AS pt ON pt.tag = a.tag;
