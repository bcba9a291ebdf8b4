/*
 * sqlite.c — the SQLite backend of the metadata store, in ML-Metadata's own
 * table layout (schema version 10, as ml-metadata 1.17.1 writes it; see
 * google/ml-metadata ml_metadata/util/metadata_source_query_config.cc), so
 * that ml_metadata.MetadataStore opens what weir wrote and the reverse.
 *
 * For: every SQL statement of the store, prepared once per handle and kept;
 * how the encodings MLMD uses inside its columns reach SQLite. Not for:
 * argument checks every backend shares (store.c), nor what both backends do
 * alike whatever the database (common.c).
 *
 * How MLMD stores values, and so how we do:
 * - times are milliseconds since the epoch;
 * - a property is one row of {Artifact,Execution,Context}Property with one
 *   of int_value, double_value, string_value, proto_value, bool_value set;
 *   a google.protobuf.Struct goes into string_value as "mlmd-struct::" +
 *   base64 of its wire bytes; a google.protobuf.Any into proto_value as
 *   base64 text (MLMD's SQLite source base64-encodes bytes);
 * - MLMD declares no foreign keys (referential integrity is checked in its
 *   code), so neither do we: this file checks that types, artifacts,
 *   executions and contexts exist before linking them.
 *
 * Indexes beyond MLMD's own (named weir_idx_*): by type for listing
 * artifacts and executions in id order, and on Attribution.artifact_id and
 * Association.execution_id for "contexts of an artifact / execution". MLMD
 * creates its indexes by name with IF NOT EXISTS and never enumerates them,
 * so extra ones do not disturb it. The cache lookup needs none of ours:
 * MLMD's idx_execution_property_string (name, is_custom_property,
 * string_value) finds the executions with a given cache_key in O(log n).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "meta_internal.h"

/* ------------------------------------------------------------ the schema */

/* MLMD's tables and indexes for SQLite, schema version 10, verbatim in
 * names, column types and constraints. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS `Type` ("
    " `id` INTEGER PRIMARY KEY AUTOINCREMENT, `name` VARCHAR(255) NOT NULL,"
    " `version` VARCHAR(255), `type_kind` TINYINT(1) NOT NULL, `description` TEXT,"
    " `input_type` TEXT, `output_type` TEXT, `external_id` VARCHAR(255) UNIQUE);"
    "CREATE TABLE IF NOT EXISTS `ParentType` ("
    " `type_id` INT NOT NULL, `parent_type_id` INT NOT NULL,"
    " PRIMARY KEY (`type_id`, `parent_type_id`));"
    "CREATE TABLE IF NOT EXISTS `TypeProperty` ("
    " `type_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL, `data_type` INT NULL,"
    " PRIMARY KEY (`type_id`, `name`));"
    "CREATE TABLE IF NOT EXISTS `Artifact` ("
    " `id` INTEGER PRIMARY KEY AUTOINCREMENT, `type_id` INT NOT NULL, `uri` TEXT,"
    " `state` INT, `name` VARCHAR(255), `external_id` VARCHAR(255) UNIQUE,"
    " `create_time_since_epoch` INT NOT NULL DEFAULT 0,"
    " `last_update_time_since_epoch` INT NOT NULL DEFAULT 0,"
    " UNIQUE(`type_id`, `name`));"
    "CREATE TABLE IF NOT EXISTS `ArtifactProperty` ("
    " `artifact_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL,"
    " `is_custom_property` TINYINT(1) NOT NULL, `int_value` INT, `double_value` DOUBLE,"
    " `string_value` TEXT, `byte_value` BLOB, `proto_value` BLOB, `bool_value` BOOLEAN,"
    " PRIMARY KEY (`artifact_id`, `name`, `is_custom_property`));"
    "CREATE TABLE IF NOT EXISTS `Execution` ("
    " `id` INTEGER PRIMARY KEY AUTOINCREMENT, `type_id` INT NOT NULL,"
    " `last_known_state` INT, `name` VARCHAR(255), `external_id` VARCHAR(255) UNIQUE,"
    " `create_time_since_epoch` INT NOT NULL DEFAULT 0,"
    " `last_update_time_since_epoch` INT NOT NULL DEFAULT 0,"
    " UNIQUE(`type_id`, `name`));"
    "CREATE TABLE IF NOT EXISTS `ExecutionProperty` ("
    " `execution_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL,"
    " `is_custom_property` TINYINT(1) NOT NULL, `int_value` INT, `double_value` DOUBLE,"
    " `string_value` TEXT, `byte_value` BLOB, `proto_value` BLOB, `bool_value` BOOLEAN,"
    " PRIMARY KEY (`execution_id`, `name`, `is_custom_property`));"
    "CREATE TABLE IF NOT EXISTS `Event` ("
    " `id` INTEGER PRIMARY KEY AUTOINCREMENT, `artifact_id` INT NOT NULL,"
    " `execution_id` INT NOT NULL, `type` INT NOT NULL, `milliseconds_since_epoch` INT,"
    " UNIQUE(`artifact_id`, `execution_id`, `type`));"
    "CREATE TABLE IF NOT EXISTS `EventPath` ("
    " `event_id` INT NOT NULL, `is_index_step` TINYINT(1) NOT NULL, `step_index` INT,"
    " `step_key` TEXT);"
    "CREATE TABLE IF NOT EXISTS `MLMDEnv` (`schema_version` INTEGER PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS `Context` ("
    " `id` INTEGER PRIMARY KEY AUTOINCREMENT, `type_id` INT NOT NULL,"
    " `name` VARCHAR(255) NOT NULL, `external_id` VARCHAR(255) UNIQUE,"
    " `create_time_since_epoch` INT NOT NULL DEFAULT 0,"
    " `last_update_time_since_epoch` INT NOT NULL DEFAULT 0,"
    " UNIQUE(`type_id`, `name`));"
    "CREATE TABLE IF NOT EXISTS `ContextProperty` ("
    " `context_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL,"
    " `is_custom_property` TINYINT(1) NOT NULL, `int_value` INT, `double_value` DOUBLE,"
    " `string_value` TEXT, `byte_value` BLOB, `proto_value` BLOB, `bool_value` BOOLEAN,"
    " PRIMARY KEY (`context_id`, `name`, `is_custom_property`));"
    "CREATE TABLE IF NOT EXISTS `ParentContext` ("
    " `context_id` INT NOT NULL, `parent_context_id` INT NOT NULL,"
    " PRIMARY KEY (`context_id`, `parent_context_id`));"
    "CREATE TABLE IF NOT EXISTS `Association` ("
    " `id` INTEGER PRIMARY KEY AUTOINCREMENT, `context_id` INT NOT NULL,"
    " `execution_id` INT NOT NULL, UNIQUE(`context_id`, `execution_id`));"
    "CREATE TABLE IF NOT EXISTS `Attribution` ("
    " `id` INTEGER PRIMARY KEY AUTOINCREMENT, `context_id` INT NOT NULL,"
    " `artifact_id` INT NOT NULL, UNIQUE(`context_id`, `artifact_id`));"
    "CREATE INDEX IF NOT EXISTS `idx_artifact_uri` ON `Artifact`(`uri`);"
    "CREATE INDEX IF NOT EXISTS `idx_artifact_create_time_since_epoch`"
    " ON `Artifact`(`create_time_since_epoch`);"
    "CREATE INDEX IF NOT EXISTS `idx_artifact_last_update_time_since_epoch`"
    " ON `Artifact`(`last_update_time_since_epoch`);"
    "CREATE INDEX IF NOT EXISTS `idx_event_execution_id` ON `Event`(`execution_id`);"
    "CREATE INDEX IF NOT EXISTS `idx_parentcontext_parent_context_id`"
    " ON `ParentContext`(`parent_context_id`);"
    "CREATE INDEX IF NOT EXISTS `idx_type_name` ON `Type`(`name`);"
    "CREATE INDEX IF NOT EXISTS `idx_execution_create_time_since_epoch`"
    " ON `Execution`(`create_time_since_epoch`);"
    "CREATE INDEX IF NOT EXISTS `idx_execution_last_update_time_since_epoch`"
    " ON `Execution`(`last_update_time_since_epoch`);"
    "CREATE INDEX IF NOT EXISTS `idx_context_create_time_since_epoch`"
    " ON `Context`(`create_time_since_epoch`);"
    "CREATE INDEX IF NOT EXISTS `idx_context_last_update_time_since_epoch`"
    " ON `Context`(`last_update_time_since_epoch`);"
    "CREATE INDEX IF NOT EXISTS `idx_eventpath_event_id` ON `EventPath`(`event_id`);"
    "CREATE INDEX IF NOT EXISTS `idx_artifact_property_int`"
    " ON `ArtifactProperty`(`name`, `is_custom_property`, `int_value`)"
    " WHERE `int_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_artifact_property_double`"
    " ON `ArtifactProperty`(`name`, `is_custom_property`, `double_value`)"
    " WHERE `double_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_artifact_property_string`"
    " ON `ArtifactProperty`(`name`, `is_custom_property`, `string_value`)"
    " WHERE `string_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_execution_property_int`"
    " ON `ExecutionProperty`(`name`, `is_custom_property`, `int_value`)"
    " WHERE `int_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_execution_property_double`"
    " ON `ExecutionProperty`(`name`, `is_custom_property`, `double_value`)"
    " WHERE `double_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_execution_property_string`"
    " ON `ExecutionProperty`(`name`, `is_custom_property`, `string_value`)"
    " WHERE `string_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_context_property_int`"
    " ON `ContextProperty`(`name`, `is_custom_property`, `int_value`)"
    " WHERE `int_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_context_property_double`"
    " ON `ContextProperty`(`name`, `is_custom_property`, `double_value`)"
    " WHERE `double_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_context_property_string`"
    " ON `ContextProperty`(`name`, `is_custom_property`, `string_value`)"
    " WHERE `string_value` IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS `idx_type_external_id` ON `Type`(`external_id`);"
    "CREATE INDEX IF NOT EXISTS `idx_artifact_external_id` ON `Artifact`(`external_id`);"
    "CREATE INDEX IF NOT EXISTS `idx_execution_external_id` ON `Execution`(`external_id`);"
    "CREATE INDEX IF NOT EXISTS `idx_context_external_id` ON `Context`(`external_id`);"
    "INSERT INTO `MLMDEnv`(`schema_version`) VALUES(10);"
    /* MLMD's built-in "simple types", which it upserts on every open; a
     * store that has them already can be opened by MLMD read-only. */
    "INSERT INTO `Type`(`name`, `type_kind`) VALUES"
    " ('mlmd.Dataset', 1), ('mlmd.Model', 1), ('mlmd.Metrics', 1),"
    " ('mlmd.Statistics', 1), ('mlmd.Train', 0), ('mlmd.Transform', 0),"
    " ('mlmd.Process', 0), ('mlmd.Evaluate', 0), ('mlmd.Deploy', 0);";

/* weir's own indexes (see the top of this file); added to MLMD-made stores
 * too when weir opens them for writing. */
static const char weir_index_sql[] =
    "CREATE INDEX IF NOT EXISTS `weir_idx_artifact_type_id` ON `Artifact`(`type_id`);"
    "CREATE INDEX IF NOT EXISTS `weir_idx_execution_type_id` ON `Execution`(`type_id`);"
    "CREATE INDEX IF NOT EXISTS `weir_idx_attribution_artifact_id`"
    " ON `Attribution`(`artifact_id`);"
    "CREATE INDEX IF NOT EXISTS `weir_idx_association_execution_id`"
    " ON `Association`(`execution_id`);";

#define SIMPLE_TYPE_NAMES                                                          \
    "('mlmd.Dataset', 'mlmd.Model', 'mlmd.Metrics', 'mlmd.Statistics', 'mlmd.Train'," \
    " 'mlmd.Transform', 'mlmd.Process', 'mlmd.Evaluate', 'mlmd.Deploy')"

/* ------------------------------------------------------------ statements */

/* CROSS JOIN pins the property index as the outer loop, so the planner
 * never prefers walking Execution in create-time order (O(n) on a miss). */
#define CACHE_SQL_HEAD                                                                 \
    "SELECT E.`id` FROM `ExecutionProperty` AS P"                                      \
    " CROSS JOIN `Execution` AS E ON E.`id` = P.`execution_id`"                        \
    " WHERE P.`name` = '" WEIR_META_CACHE_KEY "' AND P.`is_custom_property` = 1"       \
    " AND P.`string_value` = ?1 AND E.`last_known_state` = 3"
#define CACHE_SQL_TAIL " ORDER BY E.`create_time_since_epoch` DESC, E.`id` DESC LIMIT 1"

const char weir__meta_sqlite_cache_sql[] = CACHE_SQL_HEAD " AND E.`type_id` = ?2" CACHE_SQL_TAIL;

enum stmt {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_TYPE_BY_NAME,
    S_TYPE_BY_ID,
    S_TYPES_BY_KIND,
    S_TYPE_INSERT,
    S_TYPE_PROPS,
    S_TYPE_PROP_INSERT,
    S_CTX_BY_TYPE_NAME,
    S_ART_BY_URI,
    S_EVENT_INSERT,
    S_EVENT_PATH_INSERT,
    S_EVENTS_BY_EXEC,
    S_EVENTS_BY_ART,
    S_EVENT_PATH,
    S_ATTRIBUTION_INSERT,
    S_ASSOCIATION_INSERT,
    S_CTX_OF_ARTIFACT,
    S_CTX_OF_EXECUTION,
    S_PARENTS,
    S_CHILDREN,
    S_PARENT_INSERT,
    S_PARENT_CYCLE,
    S_CACHE_ANY,
    S_CACHE_TYPED,
    S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_TYPE_BY_NAME] = "SELECT `id` FROM `Type` WHERE `name` = ?1 AND `version` IS ?2"
                       " AND `type_kind` = ?3",
    [S_TYPE_BY_ID] = "SELECT `id`, `type_kind`, `name`, `version`, `description`"
                     " FROM `Type` WHERE `id` = ?1",
    [S_TYPES_BY_KIND] = "SELECT `id` FROM `Type` WHERE `type_kind` = ?1 AND NOT"
                        " (`version` IS NULL AND `name` IN " SIMPLE_TYPE_NAMES ") ORDER BY `id`",
    [S_TYPE_INSERT] = "INSERT INTO `Type`(`name`, `version`, `type_kind`, `description`)"
                      " VALUES(?1, ?2, ?3, ?4)",
    [S_TYPE_PROPS] = "SELECT `name`, `data_type` FROM `TypeProperty` WHERE `type_id` = ?1"
                     " ORDER BY `name`",
    [S_TYPE_PROP_INSERT] = "INSERT INTO `TypeProperty`(`type_id`, `name`, `data_type`)"
                           " VALUES(?1, ?2, ?3)",
    [S_CTX_BY_TYPE_NAME] = "SELECT `id` FROM `Context` WHERE `type_id` = ?1 AND `name` = ?2",
    [S_ART_BY_URI] = "SELECT `id` FROM `Artifact` WHERE `uri` = ?1 ORDER BY `id`",
    [S_EVENT_INSERT] = "INSERT INTO `Event`(`artifact_id`, `execution_id`, `type`,"
                       " `milliseconds_since_epoch`) VALUES(?1, ?2, ?3, ?4)",
    [S_EVENT_PATH_INSERT] = "INSERT INTO `EventPath`(`event_id`, `is_index_step`,"
                            " `step_index`, `step_key`) VALUES(?1, ?2, ?3, ?4)",
    [S_EVENTS_BY_EXEC] = "SELECT `id`, `artifact_id`, `execution_id`, `type`,"
                         " `milliseconds_since_epoch` FROM `Event` WHERE `execution_id` = ?1"
                         " ORDER BY `id`",
    [S_EVENTS_BY_ART] = "SELECT `id`, `artifact_id`, `execution_id`, `type`,"
                        " `milliseconds_since_epoch` FROM `Event` WHERE `artifact_id` = ?1"
                        " ORDER BY `id`",
    [S_EVENT_PATH] = "SELECT `is_index_step`, `step_index`, `step_key` FROM `EventPath`"
                     " WHERE `event_id` = ?1 ORDER BY `rowid`",
    [S_ATTRIBUTION_INSERT] = "INSERT OR IGNORE INTO `Attribution`(`context_id`, `artifact_id`)"
                             " VALUES(?1, ?2)",
    [S_ASSOCIATION_INSERT] = "INSERT OR IGNORE INTO `Association`(`context_id`,"
                             " `execution_id`) VALUES(?1, ?2)",
    [S_CTX_OF_ARTIFACT] = "SELECT `context_id` FROM `Attribution` WHERE `artifact_id` = ?1"
                          " ORDER BY `context_id`",
    [S_CTX_OF_EXECUTION] = "SELECT `context_id` FROM `Association` WHERE `execution_id` = ?1"
                           " ORDER BY `context_id`",
    [S_PARENTS] = "SELECT `parent_context_id` FROM `ParentContext` WHERE `context_id` = ?1"
                  " ORDER BY `parent_context_id`",
    [S_CHILDREN] = "SELECT `context_id` FROM `ParentContext` WHERE `parent_context_id` = ?1"
                   " ORDER BY `context_id`",
    [S_PARENT_INSERT] = "INSERT OR IGNORE INTO `ParentContext`(`context_id`,"
                        " `parent_context_id`) VALUES(?1, ?2)",
    /* Is ?2 (the child) the parent ?1 itself or one of its ancestors? */
    [S_PARENT_CYCLE] = "WITH RECURSIVE anc(id) AS (SELECT ?1 UNION"
                       " SELECT P.`parent_context_id` FROM `ParentContext` AS P"
                       " JOIN anc ON P.`context_id` = anc.id)"
                       " SELECT 1 FROM anc WHERE id = ?2 LIMIT 1",
    [S_CACHE_ANY] = CACHE_SQL_HEAD CACHE_SQL_TAIL,
    [S_CACHE_TYPED] = CACHE_SQL_HEAD " AND E.`type_id` = ?2" CACHE_SQL_TAIL,
};

/* The three node kinds share their code; their statements differ only in
 * table and column names. Parameters keep their numbers across kinds; a
 * kind without a column skips its number (SQLite allows gaps). */
enum node_kind { NK_ART = WEIR__META_NK_ART, NK_EXEC = WEIR__META_NK_EXEC, NK_CTX = WEIR__META_NK_CTX };

/* "artifact", "execution", "context" by kind (common.c). */
static const char *const *const node_word = weir__meta_node_word;

enum node_stmt {
    N_INSERT,   /* ?1 type, ?2 uri, ?3 state, ?4 name, ?5 external id, ?6 time */
    N_UPDATE,   /* same, ?7 id */
    N_GET,      /* id, type_id, uri, state, name, external_id, ctime, mtime, type name */
    N_TYPE_OF,  /* type_id of ?1 */
    N_PROPS,
    N_PROP_DEL,
    N_PROP_INSERT,
    N_BY_TYPE_ASC,  /* ?1 type, ?2 cursor, ?3 limit */
    N_BY_TYPE_DESC,
    N_BY_CTX_ASC,   /* ?1 context, ?2 cursor, ?3 limit */
    N_BY_CTX_DESC,
    N__COUNT
};

#define PROPS_SQL(T, ID)                                                                   \
    "SELECT `name`, `is_custom_property`, `int_value`, `double_value`, `string_value`,"    \
    " `proto_value`, `bool_value` FROM `" T "Property` WHERE `" ID "` = ?1"               \
    " ORDER BY `is_custom_property`, `name`"
#define PROP_INSERT_SQL(T, ID)                                                             \
    "INSERT INTO `" T "Property`(`" ID "`, `name`, `is_custom_property`, `int_value`,"    \
    " `double_value`, `string_value`, `proto_value`, `bool_value`)"                        \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
#define BY_TYPE_SQL(T, OP, ORDER)                                                          \
    "SELECT `id` FROM `" T "` WHERE `type_id` = ?1 AND `id` " OP " ?2 ORDER BY `id` " ORDER \
    " LIMIT ?3"
#define BY_CTX_SQL(T, ID, OP, ORDER)                                                       \
    "SELECT `" ID "` FROM `" T "` WHERE `context_id` = ?1 AND `" ID "` " OP " ?2"          \
    " ORDER BY `" ID "` " ORDER " LIMIT ?3"

static const char *const node_sql[3][N__COUNT] = {
    [NK_ART] = {
        [N_INSERT] = "INSERT INTO `Artifact`(`type_id`, `uri`, `state`, `name`, `external_id`,"
                     " `create_time_since_epoch`, `last_update_time_since_epoch`)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        [N_UPDATE] = "UPDATE `Artifact` SET `type_id` = ?1, `uri` = ?2, `state` = ?3,"
                     " `name` = COALESCE(?4, `name`), `external_id` = COALESCE(?5, `external_id`),"
                     " `last_update_time_since_epoch` = ?6 WHERE `id` = ?7",
        [N_GET] = "SELECT A.`id`, A.`type_id`, A.`uri`, A.`state`, A.`name`, A.`external_id`,"
                  " A.`create_time_since_epoch`, A.`last_update_time_since_epoch`, T.`name`"
                  " FROM `Artifact` AS A LEFT JOIN `Type` AS T ON T.`id` = A.`type_id`"
                  " WHERE A.`id` = ?1",
        [N_TYPE_OF] = "SELECT `type_id` FROM `Artifact` WHERE `id` = ?1",
        [N_PROPS] = PROPS_SQL("Artifact", "artifact_id"),
        [N_PROP_DEL] = "DELETE FROM `ArtifactProperty` WHERE `artifact_id` = ?1",
        [N_PROP_INSERT] = PROP_INSERT_SQL("Artifact", "artifact_id"),
        [N_BY_TYPE_ASC] = BY_TYPE_SQL("Artifact", ">", "ASC"),
        [N_BY_TYPE_DESC] = BY_TYPE_SQL("Artifact", "<", "DESC"),
        [N_BY_CTX_ASC] = BY_CTX_SQL("Attribution", "artifact_id", ">", "ASC"),
        [N_BY_CTX_DESC] = BY_CTX_SQL("Attribution", "artifact_id", "<", "DESC"),
    },
    [NK_EXEC] = {
        [N_INSERT] = "INSERT INTO `Execution`(`type_id`, `last_known_state`, `name`,"
                     " `external_id`, `create_time_since_epoch`, `last_update_time_since_epoch`)"
                     " VALUES(?1, ?3, ?4, ?5, ?6, ?6)",
        [N_UPDATE] = "UPDATE `Execution` SET `type_id` = ?1, `last_known_state` = ?3,"
                     " `name` = COALESCE(?4, `name`), `external_id` = COALESCE(?5, `external_id`),"
                     " `last_update_time_since_epoch` = ?6 WHERE `id` = ?7",
        [N_GET] = "SELECT E.`id`, E.`type_id`, NULL, E.`last_known_state`, E.`name`,"
                  " E.`external_id`, E.`create_time_since_epoch`,"
                  " E.`last_update_time_since_epoch`, T.`name`"
                  " FROM `Execution` AS E LEFT JOIN `Type` AS T ON T.`id` = E.`type_id`"
                  " WHERE E.`id` = ?1",
        [N_TYPE_OF] = "SELECT `type_id` FROM `Execution` WHERE `id` = ?1",
        [N_PROPS] = PROPS_SQL("Execution", "execution_id"),
        [N_PROP_DEL] = "DELETE FROM `ExecutionProperty` WHERE `execution_id` = ?1",
        [N_PROP_INSERT] = PROP_INSERT_SQL("Execution", "execution_id"),
        [N_BY_TYPE_ASC] = BY_TYPE_SQL("Execution", ">", "ASC"),
        [N_BY_TYPE_DESC] = BY_TYPE_SQL("Execution", "<", "DESC"),
        [N_BY_CTX_ASC] = BY_CTX_SQL("Association", "execution_id", ">", "ASC"),
        [N_BY_CTX_DESC] = BY_CTX_SQL("Association", "execution_id", "<", "DESC"),
    },
    [NK_CTX] = {
        [N_INSERT] = "INSERT INTO `Context`(`type_id`, `name`, `external_id`,"
                     " `create_time_since_epoch`, `last_update_time_since_epoch`)"
                     " VALUES(?1, ?4, ?5, ?6, ?6)",
        [N_UPDATE] = "UPDATE `Context` SET `type_id` = ?1, `name` = COALESCE(?4, `name`),"
                     " `external_id` = COALESCE(?5, `external_id`),"
                     " `last_update_time_since_epoch` = ?6 WHERE `id` = ?7",
        [N_GET] = "SELECT C.`id`, C.`type_id`, NULL, NULL, C.`name`, C.`external_id`,"
                  " C.`create_time_since_epoch`, C.`last_update_time_since_epoch`, T.`name`"
                  " FROM `Context` AS C LEFT JOIN `Type` AS T ON T.`id` = C.`type_id`"
                  " WHERE C.`id` = ?1",
        [N_TYPE_OF] = "SELECT `type_id` FROM `Context` WHERE `id` = ?1",
        [N_PROPS] = PROPS_SQL("Context", "context_id"),
        [N_PROP_DEL] = "DELETE FROM `ContextProperty` WHERE `context_id` = ?1",
        [N_PROP_INSERT] = PROP_INSERT_SQL("Context", "context_id"),
        [N_BY_TYPE_ASC] = BY_TYPE_SQL("Context", ">", "ASC"),
        [N_BY_TYPE_DESC] = BY_TYPE_SQL("Context", "<", "DESC"),
        [N_BY_CTX_ASC] = NULL,
        [N_BY_CTX_DESC] = NULL,
    },
};

/* ------------------------------------------------------------- the handle */

struct sq {
    struct weir_store base;
    sqlite3 *db;
    char *path;
    int readonly;
    sqlite3_stmt *st[S__COUNT];
    sqlite3_stmt *nst[3][N__COUNT];
    struct weir__meta_types types;
    weir_buf scratch;    /* base64 text being bound */
    weir_buf decode;     /* base64 padding while decoding */
    weir_buf pv, cv;     /* property rows of the node being read */
};

#define VEC_MAX ((size_t)1 << 31)

/* ----------------------------------------------------------------- errors */

static weir_status map_rc(int rc) {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return WEIR_EAGAIN;
    case SQLITE_CONSTRAINT: return WEIR_EEXIST;
    case SQLITE_NOMEM: return WEIR_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return WEIR_ECORRUPT;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_CANTOPEN: return WEIR_EPERM;
    case SQLITE_TOOBIG: return WEIR_ELIMIT;
    default: return WEIR_EIO;
    }
}

static const char *hint_rc(int rc) {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "; another process held the write lock past the busy timeout: retry";
    case SQLITE_CONSTRAINT:
        return weir__meta_hint_unique;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN: return "; check the file's and its directory's permissions";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return "; the file is damaged or not SQLite: restore it or use a fresh path";
    case SQLITE_FULL: return "; the disk is full";
    default: return "";
    }
}

/* "metadata store PATH: <what>: <sqlite's message><what to do>" */
static weir_status sqerr(struct sq *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static weir_status sqerr(struct sq *s, int rc, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return weir_errorf(map_rc(rc), "metadata store %s: %s: %s%s", s->path, what,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), hint_rc(rc));
}

/* ------------------------------------------------------ statement helpers */

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows and resets it; SQLITE_OK or the
 * error. */
static int step_done(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* A column as a NUL-terminated copy in the arena; NULL for SQL NULL. */
static weir_status col_str(weir_arena_t *a, sqlite3_stmt *st, int col, const char **out) {
    const unsigned char *t = sqlite3_column_text(st, col);
    char *p;
    if (!t) {
        *out = NULL;
        return WEIR_OK;
    }
    p = weir_arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, col));
    if (!p) return weir_errorf(WEIR_ENOMEM, "metadata store: arena full copying a string");
    *out = p;
    return WEIR_OK;
}

/* Copies `n` bytes into the arena; sets *out. */
static weir_status arena_dup(weir_arena_t *a, const void *p, size_t n, void **out) {
    void *q = NULL;
    weir_status rc;
    if (n == 0) {
        *out = NULL;
        return WEIR_OK;
    }
    rc = weir_arena_alloc_ex(a, n, &q);
    if (rc) return rc;
    memcpy(q, p, n);
    *out = q;
    return WEIR_OK;
}

static weir_status tx_begin(void *be) {
    struct sq *s = be;
    int rc;
    if (s->readonly)
        return weir_errorf(WEIR_EPERM, "metadata store %s: opened read-only; "
                           "open it without `readonly` to write", s->path);
    rc = step_done(s->st[S_BEGIN]);
    return rc ? sqerr(s, rc, "starting a transaction") : WEIR_OK;
}

static weir_status tx_commit(void *be) {
    struct sq *s = be;
    int rc = step_done(s->st[S_COMMIT]);
    return rc ? sqerr(s, rc, "committing") : WEIR_OK;
}

static void tx_rollback(void *be) {
    struct sq *s = be;
    if (!sqlite3_get_autocommit(s->db)) step_done(s->st[S_ROLLBACK]);
}

/* Ids of all rows of a one-column query into vec (int64s), appending. */
static weir_status collect_ids(struct sq *s, sqlite3_stmt *st, weir_buf *vec, const char *what) {
    int rc;
    weir_status ws = WEIR_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        ws = weir_buf_append(vec, &id, sizeof id);
        if (ws) break;
    }
    sqlite3_reset(st);
    if (ws) return ws;
    if (rc != SQLITE_DONE) return sqerr(s, rc, "%s", what);
    return WEIR_OK;
}

/* --------------------------------------------------------------- base64 */

/* Decodes base64 text (padded or not) into the arena, NUL-terminated. */
static weir_status b64_decode(struct sq *s, weir_arena_t *a, const char *t, size_t n,
                              const char **out, size_t *outlen) {
    weir_status rc;
    weir_buf_reset(&s->decode);
    rc = weir_buf_append(&s->decode, t, n);
    while (!rc && s->decode.len % 4) rc = weir_buf_append_byte(&s->decode, '=');
    if (rc) return rc;
    return weir__meta_b64_decode_padded(a, s->decode.data, s->decode.len, out, outlen);
}

/* ------------------------------------------------------------------ types */

/* Reads a type's declared properties (malloc'd) from the database. */
static weir_status type_props_load(struct sq *s, int64_t id, struct weir__meta_tprop **out, size_t *n) {
    sqlite3_stmt *st = s->st[S_TYPE_PROPS];
    struct weir__meta_tprop *v = NULL;
    size_t cnt = 0, cap = 0;
    weir_status ws = WEIR_OK;
    int rc;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct weir__meta_tprop *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                ws = weir_errorf(WEIR_ENOMEM, "out of memory reading type %lld", (long long)id);
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt].name = strdup(name ? name : "");
        v[cnt].type = sqlite3_column_int(st, 1);
        if (!v[cnt].name) {
            ws = weir_errorf(WEIR_ENOMEM, "out of memory reading type %lld", (long long)id);
            break;
        }
        cnt++;
    }
    sqlite3_reset(st);
    if (!ws && rc != SQLITE_DONE) ws = sqerr(s, rc, "reading the properties of type %lld", (long long)id);
    if (ws) {
        weir__meta_tprops_free(v, cnt);
        return ws;
    }
    *out = v;
    *n = cnt;
    return WEIR_OK;
}

/* The cached type `id`, loaded on a miss; WEIR_ENOENT when there is none. */
static weir_status type_get(void *ctx, int64_t id, const struct weir__meta_tcache **out) {
    struct sq *s = ctx;
    sqlite3_stmt *st = s->st[S_TYPE_BY_ID];
    struct weir__meta_tcache t = {0};
    weir_status ws;
    int rc;
    if ((*out = weir__meta_types_find(&s->types, id))) return WEIR_OK;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 2);
        t.id = id;
        t.kind = sqlite3_column_int(st, 1);
        t.name = strdup(name ? name : "");
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: no type with id %lld; "
                           "put the type first (weir_store_put_type)", s->path, (long long)id);
    if (rc != SQLITE_ROW) return sqerr(s, rc, "reading type %lld", (long long)id);
    if (!t.name) return weir_errorf(WEIR_ENOMEM, "out of memory reading type %lld", (long long)id);
    ws = type_props_load(s, id, &t.props, &t.nprops);
    if (ws) {
        weir__meta_tcache_entry_free(&t);
        return ws;
    }
    return weir__meta_types_add(&s->types, &t, out);
}

/* Type id by (kind, name, version); *id = 0 when there is none. */
static weir_status type_find(void *ctx, weir_meta_type_kind kind, const char *name,
                             const char *version, int64_t *id) {
    struct sq *s = ctx;
    sqlite3_stmt *st = s->st[S_TYPE_BY_NAME];
    int rc;
    bind_text(st, 1, name);
    bind_text(st, 2, version);
    sqlite3_bind_int(st, 3, (int)kind);
    rc = sqlite3_step(st);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqerr(s, rc, "looking up %s type '%s'", weir_meta_kind_name(kind), name);
    return WEIR_OK;
}

/* Declares property p of type `id` (weir__meta_prop_add_fn). */
static weir_status type_prop_add(void *ctx, int64_t id, const weir_meta_type_prop *p,
                                 const char *type_name) {
    struct sq *s = ctx;
    sqlite3_stmt *st = s->st[S_TYPE_PROP_INSERT];
    int rc;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, p->name);
    sqlite3_bind_int(st, 3, (int)p->type);
    rc = step_done(st);
    return rc ? sqerr(s, rc, "adding property '%s' to type '%s'", p->name, type_name) : WEIR_OK;
}

static weir_status sq_put_type(weir_store_t *store, const weir_meta_type *t, unsigned flags,
                               int64_t *out_id) {
    struct sq *s = (struct sq *)store;
    struct weir__meta_tprop *have = NULL;
    size_t nhave = 0;
    int64_t id = 0;
    weir_status ws;
    int rc;

    ws = weir__meta_type_check_def(t);
    if (ws) return ws;
    ws = tx_begin(s);
    if (ws) return ws;
    ws = type_find(s, t->kind, t->name, t->version, &id);
    if (ws) goto out;
    if (id) {
        ws = type_props_load(s, id, &have, &nhave);
        if (!ws) ws = weir__meta_type_merge(s->path, t, flags, id, have, nhave, type_prop_add, s);
        if (ws) goto out;
    } else {
        sqlite3_stmt *st = s->st[S_TYPE_INSERT];
        bind_text(st, 1, t->name);
        bind_text(st, 2, t->version);
        sqlite3_bind_int(st, 3, (int)t->kind);
        bind_text(st, 4, t->description);
        rc = step_done(st);
        if (rc) {
            ws = sqerr(s, rc, "inserting %s type '%s'", weir_meta_kind_name(t->kind), t->name);
            goto out;
        }
        id = sqlite3_last_insert_rowid(s->db);
        st = s->st[S_TYPE_PROP_INSERT];
        for (size_t i = 0; i < t->nprops; i++) {
            sqlite3_bind_int64(st, 1, id);
            bind_text(st, 2, t->props[i].name);
            sqlite3_bind_int(st, 3, (int)t->props[i].type);
            rc = step_done(st);
            if (rc) {
                ws = sqerr(s, rc, "declaring property '%s' of type '%s'", t->props[i].name,
                           t->name);
                goto out;
            }
        }
    }
    ws = tx_commit(s);
out:
    if (ws) tx_rollback(s);
    else {
        weir__meta_types_drop(&s->types, id);
        *out_id = id;
    }
    weir__meta_tprops_free(have, nhave);
    return ws;
}

/* Reads type `id` into the arena; WEIR_ENOENT when there is none. */
static weir_status type_read(void *be, int64_t id, weir_arena_t *a, weir_meta_type *t) {
    struct sq *s = be;
    sqlite3_stmt *st = s->st[S_TYPE_BY_ID];
    struct weir__meta_tprop *props = NULL;
    size_t n = 0;
    weir_status ws = WEIR_OK;
    int rc;
    memset(t, 0, sizeof *t);
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        t->id = id;
        t->kind = (weir_meta_type_kind)sqlite3_column_int(st, 1);
        ws = col_str(a, st, 2, &t->name);
        if (!ws) ws = col_str(a, st, 3, &t->version);
        if (!ws) ws = col_str(a, st, 4, &t->description);
    }
    sqlite3_reset(st);
    if (ws) return ws;
    if (rc == SQLITE_DONE)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: no type with id %lld", s->path,
                           (long long)id);
    if (rc != SQLITE_ROW) return sqerr(s, rc, "reading type %lld", (long long)id);
    ws = type_props_load(s, id, &props, &n);
    if (ws) return ws;
    return weir__meta_type_props_fill(a, props, n, t);
}

/* The backend as common.c sees it (defined with the edges below). */
static const struct weir__meta_ops sq_ops;

static weir_status sq_get_type_by_id(weir_store_t *store, int64_t id, weir_arena_t *a,
                                     weir_meta_type **out) {
    return weir__meta_get_type_by_id(&sq_ops, store, id, a, out);
}

static weir_status sq_get_type(weir_store_t *store, weir_meta_type_kind kind, const char *name,
                               const char *version, weir_arena_t *a, weir_meta_type **out) {
    return weir__meta_get_type(&sq_ops, store, ((struct sq *)store)->path, kind, name, version, a,
                               out);
}

static weir_status sq_get_types(weir_store_t *store, weir_meta_type_kind kind, weir_arena_t *a,
                                weir_meta_type **out, size_t *n) {
    struct sq *s = (struct sq *)store;
    weir_buf ids;
    weir_meta_type *v = NULL;
    size_t cnt;
    weir_status ws;
    weir_buf_init(&ids, VEC_MAX);
    sqlite3_bind_int(s->st[S_TYPES_BY_KIND], 1, (int)kind);
    ws = collect_ids(s, s->st[S_TYPES_BY_KIND], &ids, "listing types");
    if (ws) goto out;
    cnt = ids.len / sizeof(int64_t);
    if (cnt) {
        v = weir_arena_calloc(a, cnt, sizeof *v);
        if (!v) {
            ws = weir_errorf(WEIR_ENOMEM, "metadata store: arena full listing types");
            goto out;
        }
    }
    for (size_t i = 0; i < cnt; i++) {
        int64_t id;
        memcpy(&id, ids.data + i * sizeof id, sizeof id);
        ws = type_read(s, id, a, &v[i]);
        if (ws) goto out;
    }
    *out = v;
    *n = cnt;
out:
    weir_buf_free(&ids);
    return ws;
}

/* ------------------------------------------------------------ properties */

static weir_status props_write(struct sq *s, int kind, int64_t id, const weir_meta_prop *p,
                               size_t n, int custom) {
    sqlite3_stmt *st = s->nst[kind][N_PROP_INSERT];
    for (size_t i = 0; i < n; i++) {
        const weir_meta_value *v = &p[i].value;
        weir_status ws = WEIR_OK;
        int rc;
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, p[i].name);
        sqlite3_bind_int(st, 3, custom);
        for (int c = 4; c <= 8; c++) sqlite3_bind_null(st, c);
        switch (v->type) {
        case WEIR_META_INT: sqlite3_bind_int64(st, 4, v->i); break;
        case WEIR_META_DOUBLE: sqlite3_bind_double(st, 5, v->d); break;
        case WEIR_META_STRING: bind_text(st, 6, v->s); break;
        case WEIR_META_STRUCT:
            ws = weir__meta_struct_encode(&s->scratch, v);
            if (!ws)
                sqlite3_bind_text(st, 6, (const char *)s->scratch.data, (int)s->scratch.len,
                                  SQLITE_STATIC);
            break;
        case WEIR_META_PROTO:
            weir_buf_reset(&s->scratch);
            ws = weir_b64_append(&s->scratch, v->s, v->len);
            if (!ws)
                sqlite3_bind_text(st, 7, (const char *)s->scratch.data, (int)s->scratch.len,
                                  SQLITE_STATIC);
            break;
        case WEIR_META_BOOLEAN: sqlite3_bind_int(st, 8, v->i ? 1 : 0); break;
        default: ws = WEIR_EINTERNAL; break;
        }
        if (ws) {
            sqlite3_reset(st);
            return weir_error_prefix(ws, "%s %lld property '%s': ", node_word[kind],
                                     (long long)id, p[i].name);
        }
        rc = step_done(st);
        if (rc)
            return sqerr(s, rc, "writing property '%s' of %s %lld", p[i].name, node_word[kind],
                         (long long)id);
    }
    return WEIR_OK;
}

/* Reads the properties of node `id` into n->props / n->custom (arena). */
static weir_status props_read(struct sq *s, int kind, int64_t id, weir_arena_t *a,
                              struct weir__meta_node *n) {
    sqlite3_stmt *st = s->nst[kind][N_PROPS];
    weir_status ws = WEIR_OK;
    int rc;
    weir_buf_reset(&s->pv);
    weir_buf_reset(&s->cv);
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        weir_meta_prop p;
        memset(&p, 0, sizeof p);
        ws = col_str(a, st, 0, &p.name);
        if (ws) break;
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
            p.value.type = WEIR_META_INT;
            p.value.i = sqlite3_column_int64(st, 2);
        } else if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            p.value.type = WEIR_META_DOUBLE;
            p.value.d = sqlite3_column_double(st, 3);
        } else if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            const char *t = (const char *)sqlite3_column_text(st, 4);
            size_t len = (size_t)sqlite3_column_bytes(st, 4);
            size_t pl = sizeof WEIR__META_STRUCT_PREFIX - 1;
            if (weir__meta_is_struct(t, len)) {
                p.value.type = WEIR_META_STRUCT;
                ws = b64_decode(s, a, t + pl, len - pl, &p.value.s, &p.value.len);
            } else {
                p.value.type = WEIR_META_STRING;
                ws = col_str(a, st, 4, &p.value.s);
                p.value.len = len;
            }
        } else if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            const char *t = (const char *)sqlite3_column_text(st, 5);
            p.value.type = WEIR_META_PROTO;
            ws = b64_decode(s, a, t ? t : "", (size_t)sqlite3_column_bytes(st, 5), &p.value.s,
                            &p.value.len);
        } else if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            p.value.type = WEIR_META_BOOLEAN;
            p.value.i = sqlite3_column_int64(st, 6) != 0;
        } else {
            ws = weir__meta_err_prop_empty(s->path, p.name, kind, id);
            break;
        }
        if (ws == WEIR_ECORRUPT) {
            ws = weir__meta_err_prop_base64(s->path, p.name, kind, id);
            break;
        }
        if (ws) break;
        ws = weir_buf_append(sqlite3_column_int(st, 1) ? &s->cv : &s->pv, &p, sizeof p);
        if (ws) break;
    }
    sqlite3_reset(st);
    if (!ws && rc != SQLITE_DONE)
        ws = sqerr(s, rc, "reading the properties of %s %lld", node_word[kind], (long long)id);
    if (ws) return ws;
    n->nprops = s->pv.len / sizeof(weir_meta_prop);
    n->ncustom = s->cv.len / sizeof(weir_meta_prop);
    ws = arena_dup(a, s->pv.data, s->pv.len, (void **)&n->props);
    if (!ws) ws = arena_dup(a, s->cv.data, s->cv.len, (void **)&n->custom);
    return ws;
}

/* ------------------------------------------------------------------ nodes */

/* The type id a node names, by id or by name. */
static weir_status node_type_id(void *be, int kind, const struct weir__meta_node *n, size_t idx,
                                int64_t *type_id) {
    struct sq *s = be;
    return weir__meta_node_type_id(s->path, kind, n, idx, type_find, s, type_id);
}

/* Inserts (id 0) or updates one node with its properties. */
static weir_status node_put(void *be, int kind, const struct weir__meta_node *n, size_t idx,
                            int64_t now, int64_t *out_id) {
    struct sq *s = be;
    const struct weir__meta_tcache *t = NULL;
    int64_t type_id = 0, id = n->id;
    int rc;
    sqlite3_stmt *st;
    weir_status ws;

    ws = node_type_id(s, kind, n, idx, &type_id);
    if (!ws) ws = weir__meta_node_check(s->path, kind, n, idx, type_id, &s->types, type_get, s,
                                        NULL, &t);
    if (ws) return ws;

    st = s->nst[kind][id ? N_UPDATE : N_INSERT];
    sqlite3_bind_int64(st, 1, type_id);
    bind_text(st, 2, kind == NK_ART ? n->uri : NULL);
    if (kind == NK_CTX) sqlite3_bind_null(st, 3);
    else sqlite3_bind_int(st, 3, n->state);
    bind_text(st, 4, n->name);
    bind_text(st, 5, n->external_id);
    sqlite3_bind_int64(st, 6, now);
    if (id) sqlite3_bind_int64(st, 7, id);
    rc = step_done(st);
    if (rc)
        return sqerr(s, rc, "%s %s #%zu of type '%s'%s%s%s", id ? "updating" : "inserting",
                     node_word[kind], idx, t->name, n->name ? " named '" : "",
                     n->name ? n->name : "", n->name ? "'" : "");
    if (id) {
        if (sqlite3_changes(s->db) == 0)
            return weir_errorf(WEIR_ENOENT, "metadata store %s: %s #%zu has id %lld, which does "
                               "not exist; put it with id 0 to insert it", s->path,
                               node_word[kind], idx, (long long)id);
        st = s->nst[kind][N_PROP_DEL];
        sqlite3_bind_int64(st, 1, id);
        rc = step_done(st);
        if (rc)
            return sqerr(s, rc, "replacing the properties of %s %lld", node_word[kind],
                         (long long)id);
    } else {
        id = sqlite3_last_insert_rowid(s->db);
    }
    ws = props_write(s, kind, id, n->props, n->nprops, 0);
    if (!ws) ws = props_write(s, kind, id, n->custom, n->ncustom, 1);
    if (ws) return ws;
    *out_id = id;
    return WEIR_OK;
}

/* Does node `id` exist? Its type id in *type_id (0 when it does not). */
static weir_status node_exists(struct sq *s, int kind, int64_t id, int64_t *type_id) {
    sqlite3_stmt *st = s->nst[kind][N_TYPE_OF];
    int rc;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    *type_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqerr(s, rc, "looking up %s %lld", node_word[kind], (long long)id);
    return WEIR_OK;
}

static weir_status node_must_exist(void *be, int kind, int64_t id, const char *role) {
    struct sq *s = be;
    int64_t t = 0;
    weir_status ws = node_exists(s, kind, id, &t);
    if (ws) return ws;
    if (!t)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: %s names %s %lld, which does not "
                           "exist", s->path, role, node_word[kind], (long long)id);
    return WEIR_OK;
}

/* Reads nodes by id (missing ones skipped) into a malloc'd array; the
 * strings and properties go to the arena. */
static weir_status nodes_read(void *be, int kind, const int64_t *ids, size_t nids,
                              weir_arena_t *a, struct weir__meta_node **out, size_t *nout) {
    struct sq *s = be;
    sqlite3_stmt *st = s->nst[kind][N_GET];
    struct weir__meta_node *v = NULL;
    size_t cnt = 0;
    weir_status ws = WEIR_OK;
    if (nids) {
        v = calloc(nids, sizeof *v);
        if (!v) return weir_errorf(WEIR_ENOMEM, "out of memory reading %zu %ss", nids,
                                   node_word[kind]);
    }
    for (size_t i = 0; i < nids && !ws; i++) {
        struct weir__meta_node *n = &v[cnt];
        int rc;
        sqlite3_bind_int64(st, 1, ids[i]);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            n->id = sqlite3_column_int64(st, 0);
            n->type_id = sqlite3_column_int64(st, 1);
            ws = col_str(a, st, 2, &n->uri);
            n->state = sqlite3_column_int(st, 3);
            if (!ws) ws = col_str(a, st, 4, &n->name);
            if (!ws) ws = col_str(a, st, 5, &n->external_id);
            n->ctime = sqlite3_column_int64(st, 6);
            n->mtime = sqlite3_column_int64(st, 7);
            if (!ws) ws = col_str(a, st, 8, &n->type_name);
        }
        sqlite3_reset(st);
        if (ws) break;
        if (rc == SQLITE_DONE) continue;
        if (rc != SQLITE_ROW) {
            ws = sqerr(s, rc, "reading %s %lld", node_word[kind], (long long)ids[i]);
            break;
        }
        ws = props_read(s, kind, n->id, a, n);
        cnt++;
    }
    if (ws) {
        free(v);
        return ws;
    }
    *out = v;
    *nout = cnt;
    return WEIR_OK;
}

/* Ids from a list statement (by type or by context) with paging. */
static weir_status list_ids(void *be, int kind, int by_ctx, int64_t key,
                            const weir_meta_list *l, weir_buf *ids) {
    struct sq *s = be;
    int desc;
    int64_t cursor, limit;
    sqlite3_stmt *st;
    weir__meta_list_page(l, &desc, &cursor, &limit);
    st = s->nst[kind][(by_ctx ? N_BY_CTX_ASC : N_BY_TYPE_ASC) + desc];
    sqlite3_bind_int64(st, 1, key);
    sqlite3_bind_int64(st, 2, cursor);
    sqlite3_bind_int64(st, 3, limit);
    return collect_ids(s, st, ids, by_ctx ? "listing by context" : "listing by type");
}

#define IDS(buf) ((const int64_t *)(const void *)(buf).data)
#define NIDS(buf) ((buf).len / sizeof(int64_t))

static weir_status sq_put_artifacts(weir_store_t *store, const weir_meta_artifact *x, size_t n,
                                    int64_t *ids) {
    struct sq *s = (struct sq *)store;
    int64_t now = weir__meta_now_ms(), *tmp = NULL;
    weir_status ws;
    if (n && !(tmp = calloc(n, sizeof *tmp)))
        return weir_errorf(WEIR_ENOMEM, "out of memory putting %zu artifacts", n);
    ws = tx_begin(s);
    for (size_t i = 0; !ws && i < n; i++) {
        struct weir__meta_node nd = weir__meta_node_of_artifact(&x[i]);
        ws = node_put(s, NK_ART, &nd, i, now, &tmp[i]);
    }
    if (!ws) ws = tx_commit(s);
    if (ws) tx_rollback(s);
    else if (n) memcpy(ids, tmp, n * sizeof *tmp);
    free(tmp);
    return ws;
}

static weir_status sq_put_executions(weir_store_t *store, const weir_meta_execution *x,
                                     size_t n, int64_t *ids) {
    struct sq *s = (struct sq *)store;
    int64_t now = weir__meta_now_ms(), *tmp = NULL;
    weir_status ws;
    if (n && !(tmp = calloc(n, sizeof *tmp)))
        return weir_errorf(WEIR_ENOMEM, "out of memory putting %zu executions", n);
    ws = tx_begin(s);
    for (size_t i = 0; !ws && i < n; i++) {
        struct weir__meta_node nd = weir__meta_node_of_execution(&x[i]);
        ws = node_put(s, NK_EXEC, &nd, i, now, &tmp[i]);
    }
    if (!ws) ws = tx_commit(s);
    if (ws) tx_rollback(s);
    else if (n) memcpy(ids, tmp, n * sizeof *tmp);
    free(tmp);
    return ws;
}

static weir_status sq_put_contexts(weir_store_t *store, const weir_meta_context *x, size_t n,
                                   int64_t *ids) {
    struct sq *s = (struct sq *)store;
    int64_t now = weir__meta_now_ms(), *tmp = NULL;
    weir_status ws;
    if (n && !(tmp = calloc(n, sizeof *tmp)))
        return weir_errorf(WEIR_ENOMEM, "out of memory putting %zu contexts", n);
    ws = tx_begin(s);
    for (size_t i = 0; !ws && i < n; i++) {
        struct weir__meta_node nd = weir__meta_node_of_context(&x[i]);
        ws = node_put(s, NK_CTX, &nd, i, now, &tmp[i]);
    }
    if (!ws) ws = tx_commit(s);
    if (ws) tx_rollback(s);
    else if (n) memcpy(ids, tmp, n * sizeof *tmp);
    free(tmp);
    return ws;
}

/* ------------------------------------------------------------------ edges */

static weir_status event_put(void *be, int64_t artifact_id, int64_t execution_id,
                             weir_meta_event_type type, const weir_meta_step *path,
                             size_t npath, int64_t time_ms, size_t idx) {
    struct sq *s = be;
    sqlite3_stmt *st = s->st[S_EVENT_INSERT];
    int64_t event_id;
    weir_status ws;
    int rc;
    ws = weir__meta_event_check(artifact_id, execution_id, type, path, npath, idx);
    if (ws) return ws;
    ws = node_must_exist(s, NK_ART, artifact_id, "an event");
    if (!ws) ws = node_must_exist(s, NK_EXEC, execution_id, "an event");
    if (ws) return ws;
    sqlite3_bind_int64(st, 1, artifact_id);
    sqlite3_bind_int64(st, 2, execution_id);
    sqlite3_bind_int(st, 3, (int)type);
    sqlite3_bind_int64(st, 4, time_ms);
    rc = step_done(st);
    if (rc)
        return sqerr(s, rc, "inserting the %s event of artifact %lld and execution %lld",
                     weir_meta_event_type_name(type), (long long)artifact_id,
                     (long long)execution_id);
    event_id = sqlite3_last_insert_rowid(s->db);
    st = s->st[S_EVENT_PATH_INSERT];
    for (size_t i = 0; i < npath; i++) {
        sqlite3_bind_int64(st, 1, event_id);
        sqlite3_bind_int(st, 2, path[i].key ? 0 : 1);
        if (path[i].key) {
            sqlite3_bind_null(st, 3);
            bind_text(st, 4, path[i].key);
        } else {
            sqlite3_bind_int64(st, 3, path[i].index);
            sqlite3_bind_null(st, 4);
        }
        rc = step_done(st);
        if (rc) return sqerr(s, rc, "inserting step %zu of event %lld", i, (long long)event_id);
    }
    return WEIR_OK;
}

static weir_status link_put(void *be, int attribution, int64_t ctx, int64_t other) {
    struct sq *s = be;
    enum stmt which = attribution ? S_ATTRIBUTION_INSERT : S_ASSOCIATION_INSERT;
    sqlite3_stmt *st = s->st[which];
    int rc;
    sqlite3_bind_int64(st, 1, ctx);
    sqlite3_bind_int64(st, 2, other);
    rc = step_done(st);
    if (rc)
        return sqerr(s, rc, "linking context %lld and %s %lld", (long long)ctx,
                     which == S_ATTRIBUTION_INSERT ? "artifact" : "execution",
                     (long long)other);
    return WEIR_OK;
}

/* The id of the context of type type_id named `name`; *id untouched when
 * there is none. */
static weir_status ctx_find(void *be, int64_t type_id, const char *name, int64_t *id) {
    struct sq *s = be;
    sqlite3_stmt *st = s->st[S_CTX_BY_TYPE_NAME];
    int rc;
    sqlite3_bind_int64(st, 1, type_id);
    bind_text(st, 2, name);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqerr(s, rc, "looking up context '%s'", name ? name : "");
    return WEIR_OK;
}

static const struct weir__meta_ops sq_ops = {
    .tx_begin = tx_begin,
    .tx_commit = tx_commit,
    .tx_rollback = tx_rollback,
    .node_put = node_put,
    .node_must_exist = node_must_exist,
    .node_type_id = node_type_id,
    .ctx_find = ctx_find,
    .event_put = event_put,
    .link_put = link_put,
    .nodes_read = nodes_read,
    .list_ids = list_ids,
    .type_find = type_find,
    .type_read = type_read,
};

static weir_status sq_put_events(weir_store_t *store, const weir_meta_event *ev, size_t n) {
    return weir__meta_put_events(&sq_ops, store, ev, n);
}

static weir_status sq_put_attributions_associations(weir_store_t *store,
                                                    const weir_meta_attribution *at, size_t nat,
                                                    const weir_meta_association *as,
                                                    size_t nas) {
    return weir__meta_put_links(&sq_ops, store, at, nat, as, nas);
}

static weir_status sq_put_parent_contexts(weir_store_t *store,
                                          const weir_meta_parent_context *p, size_t n) {
    struct sq *s = (struct sq *)store;
    weir_status ws = tx_begin(s);
    for (size_t i = 0; !ws && i < n; i++) {
        sqlite3_stmt *st = s->st[S_PARENT_CYCLE];
        int rc;
        ws = node_must_exist(s, NK_CTX, p[i].child_id, "a parent link (child)");
        if (!ws) ws = node_must_exist(s, NK_CTX, p[i].parent_id, "a parent link (parent)");
        if (ws) break;
        sqlite3_bind_int64(st, 1, p[i].parent_id);
        sqlite3_bind_int64(st, 2, p[i].child_id);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) {
            ws = weir_errorf(WEIR_EINVAL, "metadata store %s: making context %lld a parent of "
                             "context %lld would close a cycle (the child is the parent or "
                             "one of its ancestors)", s->path, (long long)p[i].parent_id,
                             (long long)p[i].child_id);
            break;
        }
        if (rc != SQLITE_DONE) {
            ws = sqerr(s, rc, "checking context ancestry");
            break;
        }
        st = s->st[S_PARENT_INSERT];
        sqlite3_bind_int64(st, 1, p[i].child_id);
        sqlite3_bind_int64(st, 2, p[i].parent_id);
        rc = step_done(st);
        if (rc) ws = sqerr(s, rc, "inserting a parent context");
    }
    if (!ws) ws = tx_commit(s);
    if (ws) tx_rollback(s);
    return ws;
}

/* -------------------------------------------------------- put_execution */

static weir_status sq_put_execution(weir_store_t *store, const weir_meta_execution *e,
                                    const weir_meta_artifact_event *items, size_t nitems,
                                    const weir_meta_context *contexts, size_t ncontexts,
                                    int64_t *execution_id, int64_t *artifact_ids,
                                    int64_t *context_ids) {
    return weir__meta_put_execution(&sq_ops, store, e, items, nitems, contexts, ncontexts,
                                    execution_id, artifact_ids, context_ids);
}

/* ------------------------------------------------------------------ reads */

static weir_status sq_get_artifacts_by_ids(weir_store_t *store, const int64_t *ids, size_t nids,
                                           weir_arena_t *a, weir_meta_artifact **out,
                                           size_t *n) {
    return weir__meta_read_artifacts(&sq_ops, store, ids, nids, a, out, n);
}

static weir_status sq_get_artifacts_by_type(weir_store_t *store, int64_t type_id,
                                            const weir_meta_list *l, weir_arena_t *a,
                                            weir_meta_artifact **out, size_t *n) {
    return weir__meta_list_artifacts(&sq_ops, store, 0, type_id, l, a, out, n);
}

static weir_status sq_get_artifacts_by_context(weir_store_t *store, int64_t ctx,
                                               const weir_meta_list *l, weir_arena_t *a,
                                               weir_meta_artifact **out, size_t *n) {
    return weir__meta_list_artifacts(&sq_ops, store, 1, ctx, l, a, out, n);
}

static weir_status sq_get_artifacts_by_uri(weir_store_t *store, const char *uri,
                                           weir_arena_t *a, weir_meta_artifact **out,
                                           size_t *n) {
    struct sq *s = (struct sq *)store;
    weir_buf ids;
    weir_status ws;
    weir_buf_init(&ids, VEC_MAX);
    bind_text(s->st[S_ART_BY_URI], 1, uri);
    ws = collect_ids(s, s->st[S_ART_BY_URI], &ids, "listing artifacts by uri");
    if (!ws) ws = weir__meta_read_artifacts(&sq_ops, s, IDS(ids), NIDS(ids), a, out, n);
    weir_buf_free(&ids);
    return ws;
}

static weir_status sq_get_executions_by_ids(weir_store_t *store, const int64_t *ids,
                                            size_t nids, weir_arena_t *a,
                                            weir_meta_execution **out, size_t *n) {
    return weir__meta_read_executions(&sq_ops, store, ids, nids, a, out, n);
}

static weir_status sq_get_executions_by_type(weir_store_t *store, int64_t type_id,
                                             const weir_meta_list *l, weir_arena_t *a,
                                             weir_meta_execution **out, size_t *n) {
    return weir__meta_list_executions(&sq_ops, store, 0, type_id, l, a, out, n);
}

static weir_status sq_get_executions_by_context(weir_store_t *store, int64_t ctx,
                                                const weir_meta_list *l, weir_arena_t *a,
                                                weir_meta_execution **out, size_t *n) {
    return weir__meta_list_executions(&sq_ops, store, 1, ctx, l, a, out, n);
}

static weir_status sq_get_contexts_by_ids(weir_store_t *store, const int64_t *ids, size_t nids,
                                          weir_arena_t *a, weir_meta_context **out, size_t *n) {
    return weir__meta_read_contexts(&sq_ops, store, ids, nids, a, out, n);
}

static weir_status sq_get_contexts_by_type(weir_store_t *store, int64_t type_id,
                                           const weir_meta_list *l, weir_arena_t *a,
                                           weir_meta_context **out, size_t *n) {
    return weir__meta_list_contexts(&sq_ops, store, 0, type_id, l, a, out, n);
}

static weir_status sq_get_context_by_type_and_name(weir_store_t *store, int64_t type_id,
                                                   const char *name, weir_arena_t *a,
                                                   weir_meta_context **out) {
    return weir__meta_get_context_by_name(&sq_ops, store, ((struct sq *)store)->path, type_id,
                                          name, a, out);
}

static weir_status sq_get_related_contexts(weir_store_t *store, int which, int64_t id,
                                           weir_arena_t *a, weir_meta_context **out,
                                           size_t *n) {
    static const enum stmt by[4] = {S_CTX_OF_ARTIFACT, S_CTX_OF_EXECUTION, S_PARENTS,
                                    S_CHILDREN};
    struct sq *s = (struct sq *)store;
    sqlite3_stmt *st;
    weir_buf ids;
    weir_status ws;
    if (which < 0 || which > 3)
        return weir_errorf(WEIR_EINVAL, "get_related_contexts: `which` is %d, not 0..3", which);
    st = s->st[by[which]];
    weir_buf_init(&ids, VEC_MAX);
    sqlite3_bind_int64(st, 1, id);
    ws = collect_ids(s, st, &ids, "listing related contexts");
    if (!ws) ws = weir__meta_read_contexts(&sq_ops, s, IDS(ids), NIDS(ids), a, out, n);
    weir_buf_free(&ids);
    return ws;
}

struct ev_row {
    int64_t id, artifact_id, execution_id, time_ms;
    int type;
};

static weir_status sq_get_events(weir_store_t *store, int by_artifact, const int64_t *ids,
                                 size_t nids, weir_arena_t *a, weir_meta_event **out,
                                 size_t *nout) {
    struct sq *s = (struct sq *)store;
    sqlite3_stmt *st = s->st[by_artifact ? S_EVENTS_BY_ART : S_EVENTS_BY_EXEC];
    weir_buf rows;
    weir_meta_event *v = NULL;
    size_t cnt;
    weir_status ws = WEIR_OK;
    int rc = SQLITE_DONE;

    weir_buf_init(&rows, VEC_MAX);
    for (size_t i = 0; i < nids && !ws; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct ev_row r = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                               sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 4),
                               sqlite3_column_int(st, 3)};
            ws = weir_buf_append(&rows, &r, sizeof r);
            if (ws) break;
        }
        sqlite3_reset(st);
        if (!ws && rc != SQLITE_DONE) ws = sqerr(s, rc, "reading events");
    }
    if (ws) goto out;
    cnt = rows.len / sizeof(struct ev_row);
    if (cnt && !(v = weir_arena_calloc(a, cnt, sizeof *v))) {
        ws = weir_errorf(WEIR_ENOMEM, "metadata store: arena full reading events");
        goto out;
    }
    st = s->st[S_EVENT_PATH];
    for (size_t i = 0; i < cnt && !ws; i++) {
        struct ev_row r;
        weir_meta_step *steps = NULL;
        size_t nsteps = 0, cap = 0;
        memcpy(&r, rows.data + i * sizeof r, sizeof r);
        v[i].artifact_id = r.artifact_id;
        v[i].execution_id = r.execution_id;
        v[i].type = (weir_meta_event_type)r.type;
        v[i].time_ms = r.time_ms;
        sqlite3_bind_int64(st, 1, r.id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (nsteps == cap) {
                /* Paths are short; grow in the arena, dropping the old copy. */
                size_t nc = cap ? cap * 2 : 4;
                weir_meta_step *ns = weir_arena_calloc(a, nc, sizeof *ns);
                if (!ns) {
                    ws = weir_errorf(WEIR_ENOMEM, "metadata store: arena full reading a path");
                    break;
                }
                if (nsteps) memcpy(ns, steps, nsteps * sizeof *ns);
                steps = ns;
                cap = nc;
            }
            if (sqlite3_column_int(st, 0)) {
                steps[nsteps].index = sqlite3_column_int64(st, 1);
            } else {
                ws = col_str(a, st, 2, &steps[nsteps].key);
                if (!ws && !steps[nsteps].key) steps[nsteps].key = "";
                if (ws) break;
            }
            nsteps++;
        }
        sqlite3_reset(st);
        if (!ws && rc != SQLITE_DONE) ws = sqerr(s, rc, "reading the path of event %lld",
                                                 (long long)r.id);
        v[i].path = steps;
        v[i].npath = nsteps;
    }
    if (ws) goto out;
    *out = v;
    *nout = cnt;
out:
    weir_buf_free(&rows);
    return ws;
}

static weir_status sq_find_cached_execution(weir_store_t *store, const char *key,
                                            int64_t type_id, int64_t *execution_id) {
    struct sq *s = (struct sq *)store;
    sqlite3_stmt *st = s->st[type_id ? S_CACHE_TYPED : S_CACHE_ANY];
    int64_t id = 0;
    int rc;
    bind_text(st, 1, key);
    if (type_id) sqlite3_bind_int64(st, 2, type_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqerr(s, rc, "looking up a cache key");
    *execution_id = id;
    return WEIR_OK;
}

/* ------------------------------------------------------------- open/close */

static void sq_close(weir_store_t *store) {
    struct sq *s = (struct sq *)store;
    if (!s) return;
    for (int i = 0; i < S__COUNT; i++) sqlite3_finalize(s->st[i]);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < N__COUNT; i++) sqlite3_finalize(s->nst[k][i]);
    weir__meta_types_free(&s->types);
    weir_buf_free(&s->scratch);
    weir_buf_free(&s->decode);
    weir_buf_free(&s->pv);
    weir_buf_free(&s->cv);
    if (s->db) sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

static const struct weir_store_i sqlite_vt = {
    .name = "sqlite",
    .close = sq_close,
    .put_type = sq_put_type,
    .get_type = sq_get_type,
    .get_type_by_id = sq_get_type_by_id,
    .get_types = sq_get_types,
    .put_artifacts = sq_put_artifacts,
    .put_executions = sq_put_executions,
    .put_contexts = sq_put_contexts,
    .put_events = sq_put_events,
    .put_attributions_associations = sq_put_attributions_associations,
    .put_parent_contexts = sq_put_parent_contexts,
    .put_execution = sq_put_execution,
    .get_artifacts_by_ids = sq_get_artifacts_by_ids,
    .get_artifacts_by_type = sq_get_artifacts_by_type,
    .get_artifacts_by_uri = sq_get_artifacts_by_uri,
    .get_artifacts_by_context = sq_get_artifacts_by_context,
    .get_executions_by_ids = sq_get_executions_by_ids,
    .get_executions_by_type = sq_get_executions_by_type,
    .get_executions_by_context = sq_get_executions_by_context,
    .get_events = sq_get_events,
    .get_contexts_by_ids = sq_get_contexts_by_ids,
    .get_contexts_by_type = sq_get_contexts_by_type,
    .get_context_by_type_and_name = sq_get_context_by_type_and_name,
    .get_related_contexts = sq_get_related_contexts,
    .find_cached_execution = sq_find_cached_execution,
};

/* One integer from a constant query; *v untouched when there is no row. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v, int *rows) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    *rows = 0;
    if (rc) return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!*rows) *v = sqlite3_column_int64(st, 0);
        (*rows)++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * What the file holds: *state 0 = no tables at all, 1 = an MLMD store
 * (version in *version, -1 when MLMDEnv has no row, -2 when several),
 * 2 = tables but no MLMDEnv.
 */
static int inspect(sqlite3 *db, int *state, int64_t *version) {
    int64_t ntables = 0, has_env = 0;
    int rows, rc;
    rc = query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &ntables,
                   &rows);
    if (!rc)
        rc = query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'MLMDEnv' COLLATE NOCASE", &has_env, &rows);
    if (rc) return rc;
    if (!ntables) {
        *state = 0;
        return SQLITE_OK;
    }
    if (!has_env) {
        *state = 2;
        return SQLITE_OK;
    }
    *state = 1;
    rc = query_int(db, "SELECT `schema_version` FROM `MLMDEnv`", version, &rows);
    if (rc) return rc;
    if (rows == 0) *version = -1;
    if (rows > 1) *version = -2;
    return SQLITE_OK;
}

static weir_status check_version(struct sq *s, int state, int64_t version) {
    if (state == 2)
        return weir_errorf(WEIR_EUNSUPPORTED, "metadata store %s: the database holds tables "
                           "but no MLMDEnv table, so it is not an ML-Metadata store (or one of "
                           "ml-metadata 0.13, schema 0); weir leaves it alone: use a fresh "
                           "path, or upgrade it by opening it once with ml-metadata 1.17.1",
                           s->path);
    return weir__meta_check_version(s->path, version, "a fresh path");
}

static weir_status exec_sql(struct sq *s, const char *sql, const char *what) {
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    weir_status ws = WEIR_OK;
    if (rc)
        ws = weir_errorf(map_rc(rc), "metadata store %s: %s: %s%s", s->path, what,
                         msg ? msg : sqlite3_errstr(rc), hint_rc(rc));
    sqlite3_free(msg);
    return ws;
}

static weir_status prepare(struct sq *s, const char *sql, sqlite3_stmt **st) {
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc)
        return weir_errorf(map_rc(rc) == WEIR_EIO ? WEIR_ECORRUPT : map_rc(rc),
                           "metadata store %s: it lacks a table or column that ML-Metadata "
                           "schema %d has (%s) — was it written by another program? Query: %.120s",
                           s->path, WEIR_META_SCHEMA_VERSION, sqlite3_errmsg(s->db), sql);
    return WEIR_OK;
}

weir_status weir_store_open_sqlite_ex(const char *path, const weir_store_sqlite_opts *opts,
                                      weir_store_t **out) {
    weir_store_sqlite_opts o = {0};
    struct sq *s = NULL;
    int state = 0, rc;
    int64_t version = 0;
    weir_status ws = WEIR_OK;

    if (!path || !*path || !out)
        return weir_errorf(WEIR_EINVAL, "weir_store_open_sqlite: path and out must be set");
    if (opts) o = *opts;
    if (o.busy_timeout_ms <= 0) o.busy_timeout_ms = 10000;
    s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return weir_errorf(WEIR_ENOMEM, "out of memory opening metadata store %s", path);
    }
    s->base.vt = &sqlite_vt;
    s->readonly = o.readonly;
    weir_buf_init(&s->scratch, (size_t)1 << 30);
    weir_buf_init(&s->decode, (size_t)1 << 30);
    weir_buf_init(&s->pv, VEC_MAX);
    weir_buf_init(&s->cv, VEC_MAX);

    if (o.readonly && access(path, F_OK) != 0) {
        ws = weir_errorf(WEIR_ENOENT, "metadata store %s: no such file; check the path, or "
                         "open it for writing once to create the store", path);
        goto out;
    }
    rc = sqlite3_open_v2(path, &s->db,
                         o.readonly ? SQLITE_OPEN_READONLY
                                    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         NULL);
    if (rc) {
        ws = weir_errorf(map_rc(rc), "metadata store %s: cannot open: %s; check that the "
                         "directory exists and is %s", path,
                         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc),
                         o.readonly ? "readable" : "writable");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, o.busy_timeout_ms);
    /* Look before changing anything: a database that is not ours is left
     * exactly as it was. */
    rc = inspect(s->db, &state, &version);
    if (rc) {
        ws = sqerr(s, rc, "reading the schema");
        goto out;
    }
    if (state == 0) {
        if (o.readonly) {
            ws = weir_errorf(WEIR_ENOENT, "metadata store %s: the file holds no store; open "
                             "it for writing once to create one", path);
            goto out;
        }
        /* Create under the write lock; look again in case another process
         * created it between our look and the lock. */
        ws = exec_sql(s, "BEGIN IMMEDIATE", "locking to create the schema");
        if (ws) goto out;
        rc = inspect(s->db, &state, &version);
        if (rc) ws = sqerr(s, rc, "reading the schema");
        else if (state == 0) ws = exec_sql(s, schema_sql, "creating the ML-Metadata schema");
        if (!ws) ws = exec_sql(s, "COMMIT", "committing the new schema");
        if (ws) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
        if (state == 0) {
            state = 1;
            version = WEIR_META_SCHEMA_VERSION;
        }
    }
    ws = check_version(s, state, version);
    /* Preparing every statement checks every table and column we use. */
    for (int i = 0; i < S__COUNT && !ws; i++) ws = prepare(s, stmt_sql[i], &s->st[i]);
    for (int k = 0; k < 3 && !ws; k++)
        for (int i = 0; i < N__COUNT && !ws; i++)
            if (node_sql[k][i]) ws = prepare(s, node_sql[k][i], &s->nst[k][i]);
    if (!ws && !o.readonly) {
        /* WAL: readers (a UI, MLMD) never block the writer. MLMD declares no
         * foreign keys, so PRAGMA foreign_keys stays as SQLite's default. */
        ws = exec_sql(s, "PRAGMA journal_mode=WAL", "switching to WAL");
        if (!ws)
            ws = exec_sql(s, o.sync_full ? "PRAGMA synchronous=FULL"
                                         : "PRAGMA synchronous=NORMAL",
                          "setting synchronous");
        if (!ws) ws = exec_sql(s, weir_index_sql, "adding weir's indexes");
    }
out:
    if (ws) {
        sq_close(&s->base);
        return ws;
    }
    *out = &s->base;
    return WEIR_OK;
}

weir_status weir_store_open_sqlite(const char *path, weir_store_t **out) {
    return weir_store_open_sqlite_ex(path, NULL, out);
}
