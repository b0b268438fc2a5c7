-- The gate's store: raw tables that every input format fills.
--
-- Readers produce these rows (see gate/tables/chunks.py for the column contract); the SQL model
-- (gate/sql/model) builds the metrics on top. Units are in column names: *_s seconds from the
-- trace's start, *_bytes bytes, *_utc UTC timestamps. A NULL time means "not in the trace".
-- Every column is documented at the end of its line (tests/test_repository.py checks it).

-- traces: one row per input trace (a boot iteration).
CREATE TABLE IF NOT EXISTS traces (
    trace_id INTEGER NOT NULL,          -- 1, 2, ... in the order the inputs were given
    source_path VARCHAR NOT NULL,       -- the file or folder the trace came from
    source_format VARCHAR NOT NULL,     -- etl, wpa-csv, scenario, normalized
    sha256 VARCHAR NOT NULL,            -- content hash of the source, for provenance
    os_version VARCHAR,                 -- e.g. 10.0
    pointer_size_bytes INTEGER,         -- 4 or 8
    cpu_count INTEGER,                  -- processors the logger saw
    start_utc TIMESTAMPTZ,              -- wall-clock time of the trace's start
    duration_s DOUBLE,                  -- time of the last event
    events_lost BIGINT NOT NULL,        -- events the logger dropped
    buffers_lost BIGINT NOT NULL,       -- buffers the logger dropped
    page_size_bytes INTEGER NOT NULL,   -- 4096 unless the trace says otherwise
    has_resident_set BOOLEAN NOT NULL,  -- whether resident-set data was captured
    synthetic BOOLEAN NOT NULL,         -- made by the gate's own trace writer, not by Windows
    compressed BOOLEAN NOT NULL,        -- whether the file's buffers were compressed
    records_total BIGINT NOT NULL,      -- records the reader walked
    records_unknown BIGINT NOT NULL,    -- records the reader counted but did not decode
    notes VARCHAR NOT NULL              -- what the reader noticed, one note per line
);

-- images: kernel images (drivers) with their lifetime in the trace.
CREATE TABLE IF NOT EXISTS images (
    trace_id INTEGER NOT NULL,          -- the trace (traces.trace_id)
    driver VARCHAR NOT NULL,            -- lower-case file name: acpi.sys
    path VARCHAR NOT NULL,              -- as the trace names it
    base_address UBIGINT NOT NULL,      -- load address
    size_bytes BIGINT NOT NULL,         -- image size in memory
    load_s DOUBLE,                      -- NULL: loaded before the trace started
    unload_s DOUBLE,                    -- NULL: still loaded at the end
    process_id BIGINT NOT NULL,         -- 0 for kernel images
    pdb_name VARCHAR NOT NULL,          -- PDB file name from the image identity events, or ''
    pdb_guid VARCHAR NOT NULL,          -- PDB GUID, or ''
    pdb_age BIGINT NOT NULL             -- PDB age, or -1
);

-- pool_allocations: pool allocations, each paired with its free (metrics.md, "Allocations").
CREATE TABLE IF NOT EXISTS pool_allocations (
    trace_id INTEGER NOT NULL,          -- the trace (traces.trace_id)
    alloc_seq BIGINT NOT NULL,          -- trace order of the allocation event
    alloc_s DOUBLE NOT NULL,            -- allocation time
    free_seq BIGINT,                    -- trace order of the closing event, NULL if none
    free_s DOUBLE,                      -- NULL: still outstanding at the end of the trace
    free_kind VARCHAR NOT NULL,         -- freed | lost (closed by a reallocation) | none
    pool_type UINTEGER NOT NULL,        -- POOL_TYPE as logged
    paged BOOLEAN NOT NULL,             -- pool_type & 1
    session BOOLEAN NOT NULL,           -- pool_type & 32
    nx BOOLEAN NOT NULL,                -- pool_type & 512
    big_pool BOOLEAN NOT NULL,          -- pool_type & 0x10000000 (instrumentation flag)
    tag VARCHAR NOT NULL,               -- four-character pool tag, trailing blanks removed
    size_bytes BIGINT NOT NULL,         -- allocated bytes
    address UBIGINT NOT NULL,           -- allocation address
    session_id BIGINT,                  -- NULL outside session pool
    stack_id BIGINT                     -- NULL: no stack was logged (else stack_frames.stack_id)
);

-- pool_unmatched_frees: frees whose allocation is not in the trace (made before it started).
CREATE TABLE IF NOT EXISTS pool_unmatched_frees (
    trace_id INTEGER NOT NULL,          -- the trace (traces.trace_id)
    seq BIGINT NOT NULL,                -- trace order of the free
    time_s DOUBLE NOT NULL,             -- free time
    pool_type UINTEGER NOT NULL,        -- POOL_TYPE as logged
    tag VARCHAR NOT NULL,               -- pool tag
    size_bytes BIGINT NOT NULL,         -- bytes the free names (0 when it does not say)
    address UBIGINT NOT NULL,           -- the freed address
    session_id BIGINT                   -- NULL outside session pool
);

-- stack_frame_rows: distinct call stacks, one row per frame, innermost frame first, each
-- frame's module as a number (frame_modules): a boot has tens of millions of frames and a few
-- hundred modules, and the attribution tests every frame's module.
CREATE TABLE IF NOT EXISTS stack_frame_rows (
    trace_id INTEGER NOT NULL,          -- the trace (traces.trace_id)
    stack_id BIGINT NOT NULL,           -- stack id, unique within the trace
    frame_index INTEGER NOT NULL,       -- 0 is the allocator
    address UBIGINT NOT NULL,           -- 0 when only module+offset is known
    module_id INTEGER NOT NULL,         -- the frame's module (frame_modules.module_id)
    rva_bytes BIGINT,                   -- offset into module, NULL when unresolved
    function VARCHAR                    -- from the user's PDBs, else NULL
);

-- frame_modules: the module names of stack_frame_rows.module_id, one row per name and trace.
CREATE TABLE IF NOT EXISTS frame_modules (
    trace_id INTEGER NOT NULL,          -- the trace (traces.trace_id)
    module_id INTEGER NOT NULL,         -- unique within the trace
    module VARCHAR NOT NULL             -- lower-case image file name, '' for no known image
);

-- stack_frames: stack_frame_rows with each module by name, the columns of the normalized
-- format's stack_frames.parquet.
--   trace_id      the trace (traces.trace_id)
--   stack_id      stack id, unique within the trace
--   frame_index   0 is the allocator
--   address       0 when only module+offset is known
--   module        lower-case image file name, '' when the address is in no known image
--   rva_bytes     offset into module, NULL when unresolved
--   function      from the user's PDBs, else NULL
CREATE OR REPLACE VIEW stack_frames AS
SELECT f.trace_id, f.stack_id, f.frame_index, f.address, m.module, f.rva_bytes, f.function
FROM stack_frame_rows AS f
JOIN frame_modules AS m ON m.trace_id = f.trace_id AND m.module_id = f.module_id;

-- resident_pages: the last full resident-set snapshot, by file, page list and category.
CREATE TABLE IF NOT EXISTS resident_pages (
    trace_id INTEGER NOT NULL,          -- the trace (traces.trace_id)
    path VARCHAR NOT NULL,              -- file path of the pages' image or file, '' if none
    driver VARCHAR NOT NULL,            -- lower-case file name of path, '' if no file
    page_list VARCHAR NOT NULL,         -- Active, Standby, Modified, ...
    category VARCHAR NOT NULL,          -- Driver, DriverFile, Image, ...
    size_bytes BIGINT NOT NULL          -- bytes (page count times page size)
);
