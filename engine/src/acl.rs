//! Table privileges as PostgreSQL defines them: ACL items (`aclitem`),
//! which roles' privileges a role holds (membership with INHERIT), the
//! privileges a bound statement needs, and the check that it holds them.
//!
//! Roles themselves live in the auth crate's [`RoleStore`]; tables carry
//! their owner and ACL in the catalog ([`TableDef`]).

use crate::catalog::TableDef;
use crate::error::{Error, Result, SqlState};
use joltdb_auth::{Role, RoleStore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Built-in role whose members may run BACKUP.
pub const BACKUP_ROLE: &str = "joltdb_backup";
/// Built-in role whose members may run RESTORE.
pub const RESTORE_ROLE: &str = "joltdb_restore";
/// Roles created when a data directory is opened; they cannot be dropped.
pub const BUILTIN_ROLES: &[&str] = &[BACKUP_ROLE, RESTORE_ROLE];

/// Opens the role store of a data directory and makes sure the built-in
/// roles exist.
pub fn open_roles(data_dir: &std::path::Path) -> Result<RoleStore> {
    let store = RoleStore::open(data_dir).map_err(auth_error)?;
    for r in BUILTIN_ROLES {
        store.ensure_role(r).map_err(auth_error)?;
    }
    Ok(store)
}

/// Maps a role store error to an engine error with its SQLSTATE.
pub fn auth_error(e: joltdb_auth::AuthError) -> Error {
    use joltdb_auth::AuthError as A;
    let state = match &e {
        A::RoleExists(_) => SqlState::DUPLICATE_OBJECT,
        A::UnknownRole(_) => SqlState::UNDEFINED_OBJECT,
        A::InvalidRoleName(_) => SqlState::INVALID_PARAMETER_VALUE,
        A::Io { .. } => SqlState::IO_ERROR,
        A::Corrupt { .. } | A::UnsupportedFormat { .. } => SqlState::DATA_CORRUPTED,
        A::PasswordHash(_) => SqlState::INTERNAL_ERROR,
    };
    let message = e.to_string();
    Error::new(state, message).with_source(e)
}

/// A table privilege.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Privilege {
    Insert,
    Select,
    Update,
    Delete,
    Truncate,
    References,
    Trigger,
}

/// Every table privilege, in aclitem letter order (`arwdDxt`).
pub const TABLE_PRIVILEGES: [Privilege; 7] = [
    Privilege::Insert,
    Privilege::Select,
    Privilege::Update,
    Privilege::Delete,
    Privilege::Truncate,
    Privilege::References,
    Privilege::Trigger,
];

/// Privileges that can also be granted on single columns.
pub const COLUMN_PRIVILEGES: u16 = 0b10_0111;

/// Bits of all table privileges.
pub const ALL_TABLE_PRIVILEGES: u16 = 0x7f;

impl Privilege {
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The letter in the aclitem text form.
    pub fn letter(self) -> char {
        match self {
            Privilege::Insert => 'a',
            Privilege::Select => 'r',
            Privilege::Update => 'w',
            Privilege::Delete => 'd',
            Privilege::Truncate => 'D',
            Privilege::References => 'x',
            Privilege::Trigger => 't',
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Privilege::Insert => "INSERT",
            Privilege::Select => "SELECT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::Truncate => "TRUNCATE",
            Privilege::References => "REFERENCES",
            Privilege::Trigger => "TRIGGER",
        }
    }

    /// Parses a privilege name (any case).
    pub fn parse(name: &str) -> Option<Privilege> {
        TABLE_PRIVILEGES
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// One entry of an ACL: `grantee` holds `privileges` (and may grant those
/// in `grant_options` on), granted by `grantor`. An empty grantee is PUBLIC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclItem {
    pub grantee: String,
    pub grantor: String,
    pub privileges: u16,
    pub grant_options: u16,
}

impl AclItem {
    /// PostgreSQL's aclitem text, e.g. `alice=arw*/owner` or `=r/owner`.
    pub fn to_text(&self) -> String {
        let mut s = quote_acl_name(&self.grantee);
        s.push('=');
        for p in TABLE_PRIVILEGES {
            if self.privileges & p.bit() != 0 {
                s.push(p.letter());
                if self.grant_options & p.bit() != 0 {
                    s.push('*');
                }
            }
        }
        s.push('/');
        s.push_str(&quote_acl_name(&self.grantor));
        s
    }
}

fn quote_acl_name(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii())
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The ACL a table has before any GRANT or REVOKE: the owner holds every
/// privilege.
pub fn default_acl(owner: &str) -> Vec<AclItem> {
    vec![AclItem {
        grantee: owner.to_string(),
        grantor: owner.to_string(),
        privileges: ALL_TABLE_PRIVILEGES,
        grant_options: 0,
    }]
}

/// The table's ACL (its default when none was set).
pub fn table_acl(def: &TableDef) -> Vec<AclItem> {
    def.acl.clone().unwrap_or_else(|| default_acl(&def.owner))
}

/// `relacl` as psql's `\dp` shows it: `None` while the table has its
/// default ACL, else the aclitem texts.
pub fn relacl_text(def: &TableDef) -> Option<Vec<String>> {
    def.acl
        .as_ref()
        .map(|acl| acl.iter().map(AclItem::to_text).collect())
}

/// The roles whose privileges `role` uses: itself and, when it inherits,
/// the roles it is a member of (through inheriting roles only).
pub fn privileges_of(store: &RoleStore, role: &str) -> Vec<String> {
    let mut out = vec![role.to_string()];
    let mut i = 0;
    while i < out.len() {
        let Some(r) = store.get(&out[i]) else {
            i += 1;
            continue;
        };
        if r.inherit {
            for m in &r.member_of {
                if !out.contains(&m.role) {
                    out.push(m.role.clone());
                }
            }
        }
        i += 1;
    }
    out
}

/// True when `member` is `role` or a member of it, directly or through
/// other roles (regardless of INHERIT): what SET ROLE needs.
pub fn is_member_of(store: &RoleStore, member: &str, role: &str) -> bool {
    let mut seen = vec![member.to_string()];
    let mut i = 0;
    while i < seen.len() {
        if seen[i] == role {
            return true;
        }
        if let Some(r) = store.get(&seen[i]) {
            for m in &r.member_of {
                if !seen.contains(&m.role) {
                    seen.push(m.role.clone());
                }
            }
        }
        i += 1;
    }
    false
}

/// What the current role of a session may do, derived from the role store
/// and cached until the store changes.
#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
    pub superuser: bool,
    pub createrole: bool,
    /// Roles whose privileges it holds (itself first).
    pub privileges_of: Vec<String>,
    pub store_version: u64,
}

impl Principal {
    pub fn load(store: &RoleStore, name: &str) -> Principal {
        let version = store.version();
        let role: Option<Role> = store.get(name);
        Principal {
            name: name.to_string(),
            superuser: role.as_ref().is_some_and(|r| r.superuser),
            createrole: role.as_ref().is_some_and(|r| r.createrole),
            privileges_of: privileges_of(store, name),
            store_version: version,
        }
    }

    fn holds(&self, grantee: &str) -> bool {
        grantee.is_empty() || self.privileges_of.iter().any(|r| r == grantee)
    }

    /// Owner of the table, or a member inheriting the owner's privileges.
    pub fn owns(&self, def: &TableDef) -> bool {
        self.superuser || self.holds(&def.owner)
    }

    /// Table-level privilege bits held.
    pub fn table_bits(&self, def: &TableDef) -> u16 {
        if self.superuser {
            return ALL_TABLE_PRIVILEGES;
        }
        acl_bits(&table_acl(def), |g| self.holds(g))
    }

    /// Table-level grant-option bits held (an owner may grant everything).
    pub fn grant_option_bits(&self, def: &TableDef) -> u16 {
        if self.owns(def) {
            return ALL_TABLE_PRIVILEGES;
        }
        table_acl(def)
            .iter()
            .filter(|i| self.holds(&i.grantee))
            .fold(0, |acc, i| acc | i.grant_options)
    }

    /// Column-level privilege bits held on column `col`.
    pub fn column_bits(&self, def: &TableDef, col: &str) -> u16 {
        def.column_acl
            .get(col)
            .map(|acl| acl_bits(acl, |g| self.holds(g)))
            .unwrap_or(0)
    }

    /// Whether `privilege` is held on the table, or (when `columns` is
    /// given) on each of those columns; with an empty column list, on any
    /// column will do — PostgreSQL's rule for e.g. `SELECT count(*)`.
    pub fn has(&self, def: &TableDef, privilege: Privilege, columns: Option<&[usize]>) -> bool {
        let bit = privilege.bit();
        if self.table_bits(def) & bit != 0 {
            return true;
        }
        if bit & COLUMN_PRIVILEGES == 0 {
            return false;
        }
        let on = |i: &usize| {
            def.columns
                .get(*i)
                .is_some_and(|c| self.column_bits(def, &c.name) & bit != 0)
        };
        match columns {
            Some(cols) if !cols.is_empty() => cols.iter().all(on),
            _ => (0..def.columns.len()).any(|i| on(&i)),
        }
    }
}

fn acl_bits(acl: &[AclItem], holds: impl Fn(&str) -> bool) -> u16 {
    acl.iter()
        .filter(|i| holds(&i.grantee))
        .fold(0, |acc, i| acc | i.privileges)
}

/// The privileges one table must grant for a statement to run.
#[derive(Clone, Debug, Default)]
pub struct TableNeed {
    pub oid: u32,
    pub name: String,
    /// Privilege bits needed whatever columns are read.
    pub required: u16,
    /// Columns read (needs SELECT on them; a target table needs SELECT
    /// only when some of its columns are read).
    pub selected: BTreeSet<usize>,
    pub inserted: BTreeSet<usize>,
    pub updated: BTreeSet<usize>,
}

/// Everything a bound statement needs, collected by the binder.
#[derive(Clone, Debug, Default)]
pub struct AccessNeeds {
    pub tables: Vec<TableNeed>,
    /// What the queries of the views the statement reads need, checked
    /// against each view's owner rather than the current role.
    pub views: Vec<ViewAccess>,
}

/// The needs of one view's query and the role they are checked against.
#[derive(Clone, Debug, Default)]
pub struct ViewAccess {
    pub owner: String,
    pub needs: AccessNeeds,
}

impl AccessNeeds {
    fn entry(&mut self, def: &TableDef) -> &mut TableNeed {
        let pos = match self.tables.iter().position(|t| t.oid == def.oid) {
            Some(p) => p,
            None => {
                self.tables.push(TableNeed {
                    oid: def.oid,
                    name: def.name.clone(),
                    ..Default::default()
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[pos]
    }

    /// The statement needs `privilege` on the table.
    pub fn require(&mut self, def: &TableDef, privilege: Privilege) {
        self.entry(def).required |= privilege.bit();
    }

    /// A table known to the statement (a DML target): only its column
    /// uses will require privileges.
    pub fn touch(&mut self, def: &TableDef) {
        self.entry(def);
    }

    /// Column `col` (0-based) of table `oid` is read.
    pub fn select_column(&mut self, oid: u32, col: usize) {
        if let Some(t) = self.tables.iter_mut().find(|t| t.oid == oid) {
            t.selected.insert(col);
        }
    }

    pub fn insert_columns(&mut self, def: &TableDef, cols: impl IntoIterator<Item = usize>) {
        let e = self.entry(def);
        e.required |= Privilege::Insert.bit();
        e.inserted.extend(cols);
    }

    pub fn update_columns(&mut self, def: &TableDef, cols: impl IntoIterator<Item = usize>) {
        let e = self.entry(def);
        e.required |= Privilege::Update.bit();
        e.updated.extend(cols);
    }
}

/// `permission denied for table t` (42501).
pub fn permission_denied(table: &str) -> Error {
    Error::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("permission denied for table {table}"),
    )
}

/// `must be owner of table t` (42501).
pub fn must_be_owner(table: &str) -> Error {
    Error::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("must be owner of table {table}"),
    )
}

/// Checks one table's needs against what `who` holds.
pub fn check_need(who: &Principal, def: &TableDef, need: &TableNeed) -> Result<()> {
    if who.superuser {
        return Ok(());
    }
    let mut required = need.required;
    if !need.selected.is_empty() {
        required |= Privilege::Select.bit();
    }
    for p in TABLE_PRIVILEGES {
        if required & p.bit() == 0 {
            continue;
        }
        let cols: Vec<usize> = match p {
            Privilege::Select => need.selected.iter().copied().collect(),
            Privilege::Insert => need.inserted.iter().copied().collect(),
            Privilege::Update => need.updated.iter().copied().collect(),
            _ => vec![],
        };
        if !who.has(def, p, Some(&cols)) {
            if def.is_view() {
                return Err(Error::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    format!("permission denied for view {}", def.name),
                ));
            }
            return Err(permission_denied(&def.name));
        }
    }
    Ok(())
}

/// Checks what the queries of views need against each view's owner (as
/// PostgreSQL does: reading a view needs SELECT on the view, and the view's
/// owner needs the privileges on what the view reads).
pub fn check_view_access(
    store: &RoleStore,
    catalog: &crate::catalog::CatalogSnapshot,
    views: &[ViewAccess],
) -> Result<()> {
    for view in views {
        let owner = Principal::load(store, &view.owner);
        for need in &view.needs.tables {
            if let Some(t) = catalog.tables.values().find(|t| t.def.oid == need.oid) {
                check_need(&owner, &t.def, need)?;
            }
        }
        check_view_access(store, catalog, &view.needs.views)?;
    }
    Ok(())
}

/// Parses has_table_privilege's privilege text: a comma-separated list of
/// names, each optionally followed by `WITH GRANT OPTION`. Returns
/// (privilege, with grant option) pairs.
pub fn parse_privilege_list(text: &str) -> Result<Vec<(Privilege, bool)>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let words: Vec<String> = part
            .split_whitespace()
            .map(|w| w.to_ascii_uppercase())
            .collect();
        let (name, grant) = match words.as_slice() {
            [p] => (p.as_str(), false),
            [p, w, g, o] if w == "WITH" && g == "GRANT" && o == "OPTION" => (p.as_str(), true),
            _ => (part.trim(), false),
        };
        let p = Privilege::parse(name).ok_or_else(|| {
            Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("unrecognized privilege type: \"{}\"", part.trim()),
            )
        })?;
        out.push((p, grant));
    }
    Ok(out)
}

/// `has_table_privilege(role, table, privileges)`: whether `role` holds
/// any of the comma-separated `privileges` (each optionally `WITH GRANT
/// OPTION`) on the table, from its real ACL. Errors: 42704 for an unknown
/// role, 22023 for an unknown privilege name.
pub fn role_has_table_privilege(
    store: &RoleStore,
    role: &str,
    def: &TableDef,
    privileges: &str,
) -> Result<bool> {
    if store.get(role).is_none() {
        return Err(Error::new(
            SqlState::UNDEFINED_OBJECT,
            format!("role \"{role}\" does not exist"),
        ));
    }
    let who = Principal::load(store, role);
    for (p, grant_option) in parse_privilege_list(privileges)? {
        let held = if grant_option {
            who.superuser || who.grant_option_bits(def) & p.bit() != 0
        } else {
            who.table_bits(def) & p.bit() != 0
        };
        if held {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Rows of `information_schema.role_table_grants`-style data for one
/// table: (grantor, grantee, privilege, is_grantable). PUBLIC is spelled
/// `PUBLIC`.
pub fn table_grants(def: &TableDef) -> Vec<(String, String, &'static str, bool)> {
    let mut out = Vec::new();
    for item in table_acl(def) {
        for p in TABLE_PRIVILEGES {
            if item.privileges & p.bit() != 0 {
                let grantee = if item.grantee.is_empty() {
                    "PUBLIC".to_string()
                } else {
                    item.grantee.clone()
                };
                let grantable = item.grant_options & p.bit() != 0 || item.grantee == def.owner;
                out.push((item.grantor.clone(), grantee, p.name(), grantable));
            }
        }
    }
    out
}

/// Adds `privileges` (and `grant_options`) for `grantee` granted by
/// `grantor` to an ACL.
pub fn acl_grant(
    acl: &mut Vec<AclItem>,
    grantee: &str,
    grantor: &str,
    privileges: u16,
    grant_options: u16,
) {
    match acl
        .iter_mut()
        .find(|i| i.grantee == grantee && i.grantor == grantor)
    {
        Some(i) => {
            i.privileges |= privileges;
            i.grant_options |= grant_options;
        }
        None => acl.push(AclItem {
            grantee: grantee.to_string(),
            grantor: grantor.to_string(),
            privileges,
            grant_options,
        }),
    }
}

/// Removes `bits` (privileges, or only their grant options) that
/// `grantor` gave `grantee`; with `cascade`, also what `grantee` passed on
/// of them. Without `cascade` such dependent grants are an error.
pub fn acl_revoke(
    acl: &mut Vec<AclItem>,
    grantee: &str,
    grantor: &str,
    bits: u16,
    grant_option_only: bool,
    cascade: bool,
) -> Result<()> {
    let mut lost_options = 0;
    for i in acl.iter_mut() {
        if i.grantee == grantee && i.grantor == grantor {
            lost_options |= i.grant_options & bits;
            i.grant_options &= !bits;
            if !grant_option_only {
                i.privileges &= !bits;
            }
        }
    }
    acl.retain(|i| i.privileges != 0);
    if lost_options != 0 && !grantee.is_empty() {
        // Grant options still held through another grantor keep the
        // dependent grants valid.
        let still: u16 = acl
            .iter()
            .filter(|i| i.grantee == grantee)
            .fold(0, |a, i| a | i.grant_options);
        let orphaned = lost_options & !still;
        let dependents: Vec<String> = acl
            .iter()
            .filter(|i| i.grantor == grantee && i.privileges & orphaned != 0)
            .map(|i| i.grantee.clone())
            .collect();
        if !dependents.is_empty() {
            if !cascade {
                return Err(Error::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    "dependent privileges exist",
                )
                .with_hint("Use CASCADE to revoke them too."));
            }
            for d in dependents {
                acl_revoke(acl, &d, grantee, orphaned, false, true)?;
            }
        }
    }
    Ok(())
}

/// Objects that depend on `role` (for DROP ROLE): lines like
/// `owner of table t` and `privileges for table t`.
pub fn role_dependencies<'a>(
    role: &str,
    tables: impl Iterator<Item = &'a TableDef>,
) -> Vec<String> {
    let mut out = Vec::new();
    for def in tables {
        if def.owner == role {
            out.push(format!("owner of table {}", def.name));
        }
        let in_acl = def
            .acl
            .iter()
            .flatten()
            .any(|i| (i.grantee == role || i.grantor == role) && def.owner != role);
        if in_acl {
            out.push(format!("privileges for table {}", def.name));
        }
        for (col, acl) in &def.column_acl {
            if acl.iter().any(|i| i.grantee == role || i.grantor == role) {
                out.push(format!("privileges for column {col} of table {}", def.name));
            }
        }
    }
    out
}

/// Renames a role in a table's owner and ACLs.
pub fn rename_in_table(def: &mut TableDef, old: &str, new: &str) -> bool {
    let mut changed = false;
    let mut fix = |s: &mut String| {
        if s == old {
            *s = new.to_string();
            changed = true;
        }
    };
    fix(&mut def.owner);
    for i in def.acl.iter_mut().flatten() {
        fix(&mut i.grantee);
        fix(&mut i.grantor);
    }
    for acl in def.column_acl.values_mut() {
        for i in acl.iter_mut() {
            fix(&mut i.grantee);
            fix(&mut i.grantor);
        }
    }
    changed
}

/// Column ACLs keyed by column name.
pub type ColumnAcls = BTreeMap<String, Vec<AclItem>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aclitem_text_matches_postgres() {
        let item = AclItem {
            grantee: "alice".into(),
            grantor: "owner".into(),
            privileges: ALL_TABLE_PRIVILEGES,
            grant_options: Privilege::Select.bit(),
        };
        assert_eq!(item.to_text(), "alice=ar*wdDxt/owner");
        let public = AclItem {
            grantee: String::new(),
            grantor: "Big Boss".into(),
            privileges: Privilege::Select.bit(),
            grant_options: 0,
        };
        assert_eq!(public.to_text(), "=r/\"Big Boss\"");
    }

    #[test]
    fn revoke_needs_cascade_for_dependent_grants() {
        let mut acl = default_acl("o");
        let sel = Privilege::Select.bit();
        acl_grant(&mut acl, "a", "o", sel, sel);
        acl_grant(&mut acl, "b", "a", sel, 0);
        let mut copy = acl.clone();
        let err = acl_revoke(&mut copy, "a", "o", sel, false, false).unwrap_err();
        assert_eq!(err.state, SqlState::DEPENDENT_OBJECTS_STILL_EXIST);
        acl_revoke(&mut acl, "a", "o", sel, false, true).unwrap();
        assert_eq!(acl, default_acl("o"));
    }

    #[test]
    fn privilege_list_parses() {
        let l = parse_privilege_list("select, INSERT with grant option").unwrap();
        assert_eq!(
            l,
            vec![(Privilege::Select, false), (Privilege::Insert, true)]
        );
        assert!(parse_privilege_list("fly").is_err());
    }
}
