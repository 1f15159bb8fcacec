//! `information_schema`: the SQL-standard views over the catalog (tables,
//! columns, constraints, key columns, schemata, sequences, table
//! privileges, views).

use super::pg_catalog::{table_constraints, ConstraintView};
use super::{Schema, SysCtx, SysTable, PUBLIC_NAMESPACE};
use crate::catalog::IdentityKind;
use crate::types::{DataType, Row, Value};

fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}
fn i4(v: i64) -> Value {
    Value::Int4(v as i32)
}
fn yes_no(v: bool) -> Value {
    t(if v { "YES" } else { "NO" })
}
fn opt_i4(v: Option<i64>) -> Value {
    v.map(i4).unwrap_or(Value::Null)
}

fn schemata(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ["information_schema", "pg_catalog", "pg_toast", "public"]
        .into_iter()
        .map(|s| {
            me.row()
                .set("catalog_name", t(&ctx.database))
                .set("schema_name", t(s))
                .set("schema_owner", t(ctx.owner_name()))
                .build()
        })
        .collect()
}

fn tables_view(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in ctx.catalog.tables.values() {
        rows.push(
            me.row()
                .set("table_catalog", t(&ctx.database))
                .set("table_schema", t("public"))
                .set("table_name", t(&table.def.name))
                .set(
                    "table_type",
                    t(if table.def.view.is_some() {
                        "VIEW"
                    } else {
                        "BASE TABLE"
                    }),
                )
                .set(
                    "is_insertable_into",
                    t(if table.def.view.is_some() {
                        "NO"
                    } else {
                        "YES"
                    }),
                )
                .set("is_typed", t("NO"))
                .build(),
        );
    }
    for st in super::all() {
        rows.push(
            me.row()
                .set("table_catalog", t(&ctx.database))
                .set("table_schema", t(st.schema.name()))
                .set("table_name", t(st.name))
                .set("table_type", t("VIEW"))
                .set("is_insertable_into", t("NO"))
                .set("is_typed", t("NO"))
                .build(),
        );
    }
    rows
}

/// information_schema's data_type name for a type (`character varying`,
/// `integer`, `timestamp with time zone`, ...).
fn data_type_name(dt: DataType) -> &'static str {
    match dt {
        DataType::Name => "name",
        DataType::Oid => "oid",
        other => other.base_name(),
    }
}

fn udt_name(dt: DataType) -> &'static str {
    super::pg_catalog::type_by_oid(dt.oid())
        .map(|t| t.name)
        .unwrap_or("unknown")
}

fn column_rows(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in ctx.catalog.tables.values() {
        let d = &table.def;
        for (i, c) in d.columns.iter().enumerate() {
            let dt = c.data_type;
            let not_null = c.not_null || d.primary_key.contains(&i);
            let (char_len, octet_len) = match dt {
                DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => {
                    (Some(n as i64), Some(n as i64 * 4))
                }
                DataType::Varchar(None) | DataType::Text | DataType::Char(None) => {
                    (None, Some(1_073_741_824))
                }
                _ => (None, None),
            };
            let (precision, radix, scale) = match dt {
                DataType::Int2 => (Some(16), Some(2), Some(0)),
                DataType::Int4 => (Some(32), Some(2), Some(0)),
                DataType::Int8 => (Some(64), Some(2), Some(0)),
                DataType::Float4 => (Some(24), Some(2), None),
                DataType::Float8 => (Some(53), Some(2), None),
                DataType::Numeric(Some((p, s))) => (Some(p as i64), Some(10), Some(s as i64)),
                DataType::Numeric(None) => (None, Some(10), None),
                _ => (None, None, None),
            };
            let datetime_precision = match dt {
                DataType::Date => Some(0),
                DataType::Time
                | DataType::Timestamp
                | DataType::TimestampTz
                | DataType::Interval => Some(6),
                _ => None,
            };
            let default = match (&c.default, &c.identity) {
                (Some(def), None) => t(super::pg_catalog::default_display(def, dt)),
                _ => Value::Null,
            };
            let mut r = me
                .row()
                .set("table_catalog", t(&ctx.database))
                .set("table_schema", t("public"))
                .set("table_name", t(&d.name))
                .set("column_name", t(&c.name))
                .set("ordinal_position", i4(i as i64 + 1))
                .set("column_default", default)
                .set("is_nullable", yes_no(!not_null))
                .set("data_type", t(data_type_name(dt)))
                .set("character_maximum_length", opt_i4(char_len))
                .set("character_octet_length", opt_i4(octet_len))
                .set("numeric_precision", opt_i4(precision))
                .set("numeric_precision_radix", opt_i4(radix))
                .set("numeric_scale", opt_i4(scale))
                .set("datetime_precision", opt_i4(datetime_precision))
                .set("udt_catalog", t(&ctx.database))
                .set("udt_schema", t("pg_catalog"))
                .set("udt_name", t(udt_name(dt)))
                .set("dtd_identifier", t((i + 1).to_string()))
                .set("is_self_referencing", t("NO"))
                .set("is_identity", yes_no(c.identity.is_some()))
                .set("identity_cycle", t("NO"))
                .set("is_generated", t("NEVER"))
                .set("is_updatable", t("YES"));
            if let Some(kind) = &c.identity {
                r = r.set(
                    "identity_generation",
                    t(match kind {
                        IdentityKind::Always => "ALWAYS",
                        IdentityKind::ByDefault => "BY DEFAULT",
                    }),
                );
                let seq = d.owned_sequences.iter().find_map(|s| {
                    ctx.catalog
                        .sequences
                        .get(s)
                        .filter(|s| s.def.name == format!("{}_{}_seq", d.name, c.name))
                });
                if let Some(s) = seq {
                    r = r
                        .set("identity_start", t(s.def.start.to_string()))
                        .set("identity_increment", t(s.def.increment.to_string()))
                        .set("identity_maximum", t(s.def.max_value.to_string()))
                        .set("identity_minimum", t(s.def.min_value.to_string()));
                }
            }
            rows.push(r.build());
        }
    }
    rows
}

fn constraint_type(c: &ConstraintView) -> &'static str {
    match c.kind {
        'p' => "PRIMARY KEY",
        'u' => "UNIQUE",
        'f' => "FOREIGN KEY",
        _ => "CHECK",
    }
}

fn table_constraint_rows(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in ctx.catalog.tables.values() {
        let d = &table.def;
        let base = |name: String, kind: &str| {
            me.row()
                .set("constraint_catalog", t(&ctx.database))
                .set("constraint_schema", t("public"))
                .set("constraint_name", t(name))
                .set("table_catalog", t(&ctx.database))
                .set("table_schema", t("public"))
                .set("table_name", t(&d.name))
                .set("constraint_type", t(kind))
                .set("is_deferrable", t("NO"))
                .set("initially_deferred", t("NO"))
                .set("enforced", t("YES"))
        };
        for c in table_constraints(d, &ctx.catalog) {
            let kind = constraint_type(&c);
            let mut r = base(c.name.to_string(), kind);
            if c.kind != 'c' {
                r = r.set("nulls_distinct", t("YES"));
            }
            rows.push(r.build());
        }
        // PostgreSQL lists NOT NULL columns as CHECK constraints named
        // <namespace oid>_<table oid>_<column number>_not_null.
        for (i, c) in d.columns.iter().enumerate() {
            if c.not_null || d.primary_key.contains(&i) {
                let name = format!("{}_{}_{}_not_null", PUBLIC_NAMESPACE, d.oid, i + 1);
                rows.push(base(name, "CHECK").build());
            }
        }
    }
    rows
}

fn key_column_usage(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in ctx.catalog.tables.values() {
        let d = &table.def;
        for c in table_constraints(d, &ctx.catalog) {
            if c.kind == 'c' {
                continue;
            }
            for (n, &col) in c.columns.iter().enumerate() {
                rows.push(
                    me.row()
                        .set("constraint_catalog", t(&ctx.database))
                        .set("constraint_schema", t("public"))
                        .set("constraint_name", t(c.name))
                        .set("table_catalog", t(&ctx.database))
                        .set("table_schema", t("public"))
                        .set("table_name", t(&d.name))
                        .set("column_name", t(&d.columns[col].name))
                        .set("ordinal_position", i4(n as i64 + 1))
                        .build(),
                );
            }
        }
    }
    rows
}

fn check_constraints(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in ctx.catalog.tables.values() {
        let d = &table.def;
        for c in table_constraints(d, &ctx.catalog) {
            if let Some(expr) = c.check {
                rows.push(
                    me.row()
                        .set("constraint_catalog", t(&ctx.database))
                        .set("constraint_schema", t("public"))
                        .set("constraint_name", t(c.name))
                        .set("check_clause", t(expr))
                        .build(),
                );
            }
        }
    }
    rows
}

fn sequences(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ctx.catalog
        .sequences
        .values()
        .map(|s| {
            let d = &s.def;
            let precision = match d.data_type {
                DataType::Int2 => 16,
                DataType::Int4 => 32,
                _ => 64,
            };
            me.row()
                .set("sequence_catalog", t(&ctx.database))
                .set("sequence_schema", t("public"))
                .set("sequence_name", t(&d.name))
                .set("data_type", t(d.data_type.base_name()))
                .set("numeric_precision", i4(precision))
                .set("numeric_precision_radix", i4(2))
                .set("numeric_scale", i4(0))
                .set("start_value", t(d.start.to_string()))
                .set("minimum_value", t(d.min_value.to_string()))
                .set("maximum_value", t(d.max_value.to_string()))
                .set("increment", t(d.increment.to_string()))
                .set("cycle_option", t("NO"))
                .build()
        })
        .collect()
}

/// `table_privileges` (`public`: grants to PUBLIC count) and
/// `role_table_grants` (only grants between roles): one row per privilege
/// of each table's real ACL whose grantor or grantee is a role the current
/// user is a member of.
fn table_grant_rows(ctx: &SysCtx, me: &SysTable, public: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut tables: Vec<_> = ctx.catalog.tables.values().collect();
    tables.sort_by_key(|t| t.def.oid);
    for table in tables {
        for (grantor, grantee, privilege, grantable) in crate::acl::table_grants(&table.def) {
            let visible = (public && grantee == "PUBLIC")
                || ctx.is_enabled_role(&grantor)
                || ctx.is_enabled_role(&grantee);
            if !visible {
                continue;
            }
            rows.push(
                me.row()
                    .set("grantor", t(grantor))
                    .set("grantee", t(grantee))
                    .set("table_catalog", t(&ctx.database))
                    .set("table_schema", t("public"))
                    .set("table_name", t(&table.def.name))
                    .set("privilege_type", t(privilege))
                    .set("is_grantable", yes_no(grantable))
                    .set("with_hierarchy", yes_no(privilege == "SELECT"))
                    .build(),
            );
        }
    }
    rows
}

fn table_privileges(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    table_grant_rows(ctx, me, true)
}

fn role_table_grants(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    table_grant_rows(ctx, me, false)
}

fn views(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ctx.catalog
        .tables
        .values()
        .filter_map(|table| {
            let view = table.def.view.as_ref()?;
            Some(
                me.row()
                    .set("table_catalog", t(&ctx.database))
                    .set("table_schema", t("public"))
                    .set("table_name", t(&table.def.name))
                    .set("view_definition", t(&view.query))
                    .set("check_option", t("NONE"))
                    .set("is_updatable", t("NO"))
                    .set("is_insertable_into", t("NO"))
                    .set("is_trigger_updatable", t("NO"))
                    .set("is_trigger_deletable", t("NO"))
                    .set("is_trigger_insertable_into", t("NO"))
                    .build(),
            )
        })
        .collect()
}

pub(super) fn relations() -> Vec<SysTable> {
    let rel = |name, oid, spec, generate| {
        super::relation(Schema::InformationSchema, name, oid, spec, generate)
    };
    let empty = super::no_rows;
    vec![
        rel("schemata", 13001, "catalog_name:name schema_name:name schema_owner:name default_character_set_catalog:name default_character_set_schema:name default_character_set_name:name sql_path:text", schemata),
        rel("tables", 13002, "table_catalog:name table_schema:name table_name:name table_type:text self_referencing_column_name:name reference_generation:text user_defined_type_catalog:name user_defined_type_schema:name user_defined_type_name:name is_insertable_into:text is_typed:text commit_action:text", tables_view),
        rel("columns", 13003, "table_catalog:name table_schema:name table_name:name column_name:name ordinal_position:int4 column_default:text is_nullable:text data_type:text character_maximum_length:int4 character_octet_length:int4 numeric_precision:int4 numeric_precision_radix:int4 numeric_scale:int4 datetime_precision:int4 interval_type:text interval_precision:int4 character_set_catalog:name character_set_schema:name character_set_name:name collation_catalog:name collation_schema:name collation_name:name domain_catalog:name domain_schema:name domain_name:name udt_catalog:name udt_schema:name udt_name:name scope_catalog:name scope_schema:name scope_name:name maximum_cardinality:int4 dtd_identifier:name is_self_referencing:text is_identity:text identity_generation:text identity_start:text identity_increment:text identity_maximum:text identity_minimum:text identity_cycle:text is_generated:text generation_expression:text is_updatable:text", column_rows),
        rel("table_constraints", 13004, "constraint_catalog:name constraint_schema:name constraint_name:name table_catalog:name table_schema:name table_name:name constraint_type:text is_deferrable:text initially_deferred:text enforced:text nulls_distinct:text", table_constraint_rows),
        rel("key_column_usage", 13005, "constraint_catalog:name constraint_schema:name constraint_name:name table_catalog:name table_schema:name table_name:name column_name:name ordinal_position:int4 position_in_unique_constraint:int4", key_column_usage),
        rel("check_constraints", 13006, "constraint_catalog:name constraint_schema:name constraint_name:name check_clause:text", check_constraints),
        rel("sequences", 13007, "sequence_catalog:name sequence_schema:name sequence_name:name data_type:text numeric_precision:int4 numeric_precision_radix:int4 numeric_scale:int4 start_value:text minimum_value:text maximum_value:text increment:text cycle_option:text", sequences),
        rel("table_privileges", 13010, "grantor:name grantee:name table_catalog:name table_schema:name table_name:name privilege_type:text is_grantable:text with_hierarchy:text", table_privileges),
        rel("role_table_grants", 13011, "grantor:name grantee:name table_catalog:name table_schema:name table_name:name privilege_type:text is_grantable:text with_hierarchy:text", role_table_grants),
        rel("views", 13008, "table_catalog:name table_schema:name table_name:name view_definition:text check_option:text is_updatable:text is_insertable_into:text is_trigger_updatable:text is_trigger_deletable:text is_trigger_insertable_into:text", views),
        rel("referential_constraints", 13009, "constraint_catalog:name constraint_schema:name constraint_name:name unique_constraint_catalog:name unique_constraint_schema:name unique_constraint_name:name match_option:text update_rule:text delete_rule:text", empty),
    ]
}
