//! Who a session is and what it may do: session user and current role
//! (SET ROLE, SET SESSION AUTHORIZATION), the privilege check every
//! statement passes before it runs, and role and privilege statements
//! (CREATE/ALTER/DROP ROLE, GRANT, REVOKE).
//!
//! Other statements that need a privilege check call
//! [`Session::check_table_privilege`], [`Session::check_table_owner`] or
//! [`Session::require_role_membership`] (e.g. BACKUP needs membership in
//! `joltdb_backup`, RESTORE in `joltdb_restore`).

use super::{command, command_with_notice, Engine, Notice, Output, Session};
use crate::acl::{
    self, acl_grant, acl_revoke, auth_error, must_be_owner, permission_denied, AclItem, Principal,
    Privilege, ALL_TABLE_PRIVILEGES, BUILTIN_ROLES, COLUMN_PRIVILEGES,
};
use crate::catalog::TableDef;
use crate::error::{Error, Result, SqlState};
use crate::session::CommandComplete;
use crate::sql::plan::{BoundStatement, Command};
use crate::sql::roles::{PrivilegeSpec, RoleCommand, RoleOptions, TableSet};
use crate::types::{DataType, Value};
use joltdb_auth::{Membership, Role, SUPERUSER};

/// The identity of a session.
pub(super) struct SessionAuth {
    /// SET SESSION AUTHORIZATION changes it; starts as the login role.
    session_user: String,
    /// SET ROLE; `None` means the session user.
    role: Option<String>,
    cache: Option<Principal>,
}

impl SessionAuth {
    pub(super) fn new(user: &str) -> SessionAuth {
        SessionAuth {
            session_user: user.to_string(),
            role: None,
            cache: None,
        }
    }

    /// `current_user`: the role privileges are checked against.
    pub(super) fn current_user(&self) -> &str {
        self.role.as_deref().unwrap_or(&self.session_user)
    }
}

fn undefined_role(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_OBJECT,
        format!("role \"{name}\" does not exist"),
    )
}

fn denied(message: impl Into<String>) -> Error {
    Error::new(SqlState::INSUFFICIENT_PRIVILEGE, message)
}

fn undefined_table(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

impl Session {
    /// The role whose privileges apply (`current_user`).
    pub fn current_user(&self) -> &str {
        self.auth.current_user()
    }

    /// The session user (`session_user`).
    pub fn session_user(&self) -> &str {
        &self.auth.session_user
    }

    /// What the current role may do, reloaded when any role changed.
    fn principal(&mut self) -> &Principal {
        let store = &self.engine.roles;
        let current = self.auth.current_user();
        let stale = self
            .auth
            .cache
            .as_ref()
            .is_none_or(|p| p.store_version != store.version() || p.name != current);
        if stale {
            self.auth.cache = Some(Principal::load(store, current));
        }
        self.auth.cache.as_ref().expect("principal loaded")
    }

    /// Sets the reported settings that follow the roles: `is_superuser`
    /// and `session_authorization`.
    pub(super) fn apply_role_settings(&mut self) {
        let superuser = self.principal().superuser;
        self.settings.insert(
            "is_superuser".into(),
            if superuser { "on" } else { "off" }.into(),
        );
        self.settings.insert(
            "session_authorization".into(),
            self.auth.session_user.clone(),
        );
        self.refresh_settings();
    }

    /// Checks that the current role holds every privilege `bound` needs
    /// (42501 otherwise). Runs before every execution, so a REVOKE takes
    /// effect at the next statement, prepared ones included.
    pub(super) fn check_access(&mut self, bound: &BoundStatement) -> Result<()> {
        let owner_of: Vec<String> = match &bound.command {
            Command::DropTable { names, .. } | Command::DropView { names, .. } => names.clone(),
            Command::CreateView(v) if v.or_replace => vec![v.name.clone()],
            Command::CreateIndex { table, .. } => vec![table.clone()],
            Command::DropIndex { names, .. } => {
                let catalog = self.engine.catalog();
                names
                    .iter()
                    .filter_map(|n| {
                        catalog
                            .tables
                            .values()
                            .find(|t| t.def.indexes.iter().any(|i| &i.name == n))
                            .map(|t| t.def.name.clone())
                    })
                    .collect()
            }
            _ => vec![],
        };
        if bound.access.tables.is_empty() && owner_of.is_empty() {
            return Ok(());
        }
        acl::check_view_access(
            &self.engine.roles,
            &self.engine.catalog(),
            &bound.access.views,
        )?;
        if self.principal().superuser {
            return Ok(());
        }
        let catalog = self.engine.catalog();
        let who = self.principal().clone();
        for need in &bound.access.tables {
            // A table dropped since binding fails later with its own error.
            if let Some(t) = catalog.tables.values().find(|t| t.def.oid == need.oid) {
                acl::check_need(&who, &t.def, need)?;
            }
        }
        for name in owner_of {
            if let Some(t) = catalog.tables.get(&name) {
                if !who.owns(&t.def) {
                    if t.def.is_view() {
                        return Err(denied(format!("must be owner of view {name}")));
                    }
                    return Err(must_be_owner(&name));
                }
            }
        }
        Ok(())
    }

    /// Checks that the current role holds `privilege` on `table` — on the
    /// whole table, or on each of `columns` (column names) when given.
    /// Errors: 42P01 unknown table, 42703 unknown column, 42501 denied.
    pub fn check_table_privilege(
        &mut self,
        table: &str,
        privilege: Privilege,
        columns: &[&str],
    ) -> Result<()> {
        let catalog = self.engine.catalog();
        let def = catalog.table(table)?.def.clone();
        let mut cols = Vec::with_capacity(columns.len());
        for c in columns {
            cols.push(def.column_index(c).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{c}\" of relation \"{table}\" does not exist"),
                )
            })?);
        }
        if self.principal().has(&def, privilege, Some(&cols)) {
            Ok(())
        } else {
            Err(permission_denied(table))
        }
    }

    /// Checks that the current role owns `table` (or is a superuser or a
    /// member of the owner): what ALTER and DROP need.
    pub fn check_table_owner(&mut self, table: &str) -> Result<()> {
        let catalog = self.engine.catalog();
        let def = catalog.table(table)?.def.clone();
        if self.principal().owns(&def) {
            Ok(())
        } else {
            Err(must_be_owner(table))
        }
    }

    /// Checks that the current role is a superuser or has the privileges
    /// of `role` (directly or through inheriting memberships). BACKUP
    /// calls it with [`acl::BACKUP_ROLE`], RESTORE with
    /// [`acl::RESTORE_ROLE`].
    pub fn require_role_membership(&mut self, role: &str) -> Result<()> {
        let who = self.principal();
        if who.superuser || who.privileges_of.iter().any(|r| r == role) {
            return Ok(());
        }
        Err(denied(format!(
            "permission denied: must be a member of role \"{role}\""
        )))
    }

    pub(super) fn require_superuser(&mut self, what: &str) -> Result<()> {
        if self.principal().superuser {
            return Ok(());
        }
        Err(denied(format!(
            "permission denied: {what} requires superuser"
        )))
    }

    pub(super) fn run_role_command(&mut self, cmd: &RoleCommand) -> Result<Output> {
        match cmd {
            RoleCommand::CreateRole {
                name,
                options,
                if_not_exists,
            } => self.create_role(name, options, *if_not_exists),
            RoleCommand::AlterRole { name, options } => self.alter_role(name, options),
            RoleCommand::RenameRole { name, new_name } => self.rename_role(name, new_name),
            RoleCommand::DropRole { names, if_exists } => self.drop_roles(names, *if_exists),
            RoleCommand::GrantTable {
                privileges,
                tables,
                grantees,
                with_grant_option,
            } => self.grant_table(privileges, tables, grantees, *with_grant_option),
            RoleCommand::RevokeTable {
                privileges,
                tables,
                grantees,
                grant_option_for,
                cascade,
            } => self.revoke_table(privileges, tables, grantees, *grant_option_for, *cascade),
            RoleCommand::GrantRole {
                roles,
                grantees,
                admin_option,
            } => self.grant_role(roles, grantees, *admin_option),
            RoleCommand::RevokeRole {
                roles,
                grantees,
                admin_option_for,
            } => self.revoke_role(roles, grantees, *admin_option_for),
            RoleCommand::SetRole(role, tag) => self.set_role(role.as_deref(), tag),
            RoleCommand::SetSessionAuthorization(user, tag) => {
                self.set_session_authorization(user.as_deref(), tag)
            }
        }
    }

    fn valid_until_micros(&self, text: &Option<String>) -> Result<Option<i64>> {
        match text {
            None => Ok(None),
            Some(t) => match crate::types::io::parse_text(DataType::TimestampTz, t, &self.io)? {
                Value::TimestampTz(ts) => Ok(Some(ts.timestamp_micros())),
                _ => Err(Error::invalid_text("timestamp with time zone", t)),
            },
        }
    }

    /// Applies role attributes to `role`.
    fn apply_options(&self, role: &mut Role, o: &RoleOptions) -> Result<()> {
        if let Some(v) = o.login {
            role.login = v;
        }
        if let Some(v) = o.superuser {
            role.superuser = v;
        }
        if let Some(v) = o.createrole {
            role.createrole = v;
        }
        if let Some(v) = o.createdb {
            role.createdb = v;
        }
        if let Some(v) = o.inherit {
            role.inherit = v;
        }
        if let Some(v) = &o.valid_until {
            role.valid_until = self.valid_until_micros(v)?;
        }
        if let Some(p) = &o.password {
            if p.as_deref() == Some("") {
                // PostgreSQL treats an empty password as none.
                role.set_password(None);
            } else {
                role.set_password(p.as_deref());
            }
        }
        Ok(())
    }

    fn create_role(
        &mut self,
        name: &str,
        options: &RoleOptions,
        if_not_exists: bool,
    ) -> Result<Output> {
        let who = self.principal().clone();
        if !who.superuser && !who.createrole {
            return Err(denied("permission denied to create role"));
        }
        if options.superuser == Some(true) && !who.superuser {
            return Err(denied("must be superuser to create superusers"));
        }
        if name.starts_with("pg_") {
            return Err(Error::new(
                SqlState::RESERVED_NAME,
                format!("role name \"{name}\" is reserved"),
            )
            .with_detail("Role names starting with \"pg_\" are reserved."));
        }
        let store = self.engine.roles.clone();
        if store.get(name).is_some() {
            if if_not_exists {
                return Ok(command_with_notice(
                    "CREATE ROLE",
                    Notice::info(
                        SqlState::DUPLICATE_OBJECT,
                        format!("role \"{name}\" already exists, skipping"),
                    ),
                ));
            }
            return Err(Error::new(
                SqlState::DUPLICATE_OBJECT,
                format!("role \"{name}\" already exists"),
            ));
        }
        let mut role = Role::new(name, false, false, None).map_err(auth_error)?;
        self.apply_options(&mut role, options)?;
        for group in &options.in_role {
            let g = store.get(group).ok_or_else(|| undefined_role(group))?;
            if g.superuser && !who.superuser {
                return Err(denied(format!(
                    "must have admin option on role \"{group}\""
                )));
            }
            role.member_of.push(Membership {
                role: group.clone(),
                admin_option: false,
                grantor: who.name.clone(),
            });
        }
        store.create_role(role).map_err(auth_error)?;
        Ok(command("CREATE ROLE"))
    }

    fn alter_role(&mut self, name: &str, options: &RoleOptions) -> Result<Output> {
        let who = self.principal().clone();
        let store = self.engine.roles.clone();
        let mut role = store.get(name).ok_or_else(|| undefined_role(name))?;
        if (role.superuser || options.superuser.is_some()) && !who.superuser {
            return Err(denied(
                "must be superuser to alter superuser roles or change superuser attribute",
            ));
        }
        if !who.superuser && !who.createrole {
            // Anyone may change their own password, nothing else.
            let only_password = options.password.is_some()
                && options.login.is_none()
                && options.createrole.is_none()
                && options.createdb.is_none()
                && options.inherit.is_none()
                && options.valid_until.is_none();
            if !(only_password && name == who.name) {
                return Err(denied("permission denied"));
            }
        }
        if name == SUPERUSER && options.superuser == Some(false) {
            return Err(denied(format!(
                "permission denied: role \"{SUPERUSER}\" must stay a superuser"
            )));
        }
        self.apply_options(&mut role, options)?;
        store.update_role(role).map_err(auth_error)?;
        let mut out = command("ALTER ROLE");
        if name == self.auth.session_user || Some(name) == self.auth.role.as_deref() {
            out = self.with_role_status(out);
        }
        Ok(out)
    }

    fn rename_role(&mut self, name: &str, new_name: &str) -> Result<Output> {
        let who = self.principal().clone();
        let store = self.engine.roles.clone();
        let role = store.get(name).ok_or_else(|| undefined_role(name))?;
        if name == self.auth.session_user {
            return Err(Error::unsupported("session user cannot be renamed"));
        }
        if name == self.auth.current_user() {
            return Err(Error::unsupported("current user cannot be renamed"));
        }
        if BUILTIN_ROLES.contains(&name) || name == SUPERUSER {
            return Err(Error::new(
                SqlState::RESERVED_NAME,
                format!("role \"{name}\" is reserved and cannot be renamed"),
            ));
        }
        if store.get(new_name).is_some() {
            return Err(Error::new(
                SqlState::DUPLICATE_OBJECT,
                format!("role \"{new_name}\" already exists"),
            ));
        }
        if role.superuser && !who.superuser {
            return Err(denied("must be superuser to rename superusers"));
        }
        if !who.superuser && !who.createrole {
            return Err(denied("permission denied to rename role"));
        }
        // Catalog first: a crash in between leaves table entries naming a
        // role that does not exist, which only the superuser can then use.
        self.engine
            .alter_table_defs(|def| Ok(acl::rename_in_table(def, name, new_name)))?;
        store.rename_role(name, new_name).map_err(auth_error)?;
        Ok(command("ALTER ROLE"))
    }

    fn drop_roles(&mut self, names: &[String], if_exists: bool) -> Result<Output> {
        let who = self.principal().clone();
        if !who.superuser && !who.createrole {
            return Err(denied("permission denied to drop role"));
        }
        let store = self.engine.roles.clone();
        let mut notices = Vec::new();
        let catalog = self.engine.catalog();
        for name in names {
            let Some(role) = store.get(name) else {
                if if_exists {
                    notices.push(Notice::info(
                        SqlState::SUCCESSFUL_COMPLETION,
                        format!("role \"{name}\" does not exist, skipping"),
                    ));
                    continue;
                }
                return Err(undefined_role(name));
            };
            if name == self.auth.current_user() {
                return Err(Error::new(
                    SqlState::OBJECT_IN_USE,
                    "current user cannot be dropped",
                ));
            }
            if *name == self.auth.session_user {
                return Err(Error::new(
                    SqlState::OBJECT_IN_USE,
                    "session user cannot be dropped",
                ));
            }
            if role.superuser && !who.superuser {
                return Err(denied("must be superuser to drop superusers"));
            }
            if name == SUPERUSER || BUILTIN_ROLES.contains(&name.as_str()) {
                return Err(Error::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!(
                        "cannot drop role {name} because it is required by the database system"
                    ),
                ));
            }
            let deps = acl::role_dependencies(name, catalog.tables.values().map(|t| &*t.def));
            if !deps.is_empty() {
                return Err(Error::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!("role \"{name}\" cannot be dropped because some objects depend on it"),
                )
                .with_detail(deps.join("\n")));
            }
            store.drop_role(name).map_err(auth_error)?;
        }
        Ok(Output::Command(CommandComplete {
            tag: "DROP ROLE".into(),
            parameter_status: vec![],
            notices,
        }))
    }

    fn resolve_tables(&self, tables: &TableSet) -> Result<Vec<String>> {
        let catalog = self.engine.catalog();
        match tables {
            TableSet::AllInPublic => Ok(catalog.tables.keys().cloned().collect()),
            TableSet::Tables(names) => {
                for n in names {
                    if !catalog.tables.contains_key(n) {
                        return Err(undefined_table(n));
                    }
                }
                Ok(names.clone())
            }
        }
    }

    fn check_grantees(&self, grantees: &[String]) -> Result<()> {
        for g in grantees {
            if !g.is_empty() && self.engine.roles.get(g).is_none() {
                return Err(undefined_role(g));
            }
        }
        Ok(())
    }

    /// The grantor a GRANT/REVOKE by `who` records on `def`, and the
    /// privilege bits it may grant: the owner (for owners and superusers)
    /// with everything, else the role holding grant options.
    fn grantor_for(who: &Principal, def: &TableDef) -> (String, u16) {
        if who.owns(def) {
            return (def.owner.clone(), ALL_TABLE_PRIVILEGES);
        }
        let acl = acl::table_acl(def);
        for r in &who.privileges_of {
            let opts = acl
                .iter()
                .filter(|i| &i.grantee == r)
                .fold(0, |a, i| a | i.grant_options);
            if opts != 0 {
                return (r.clone(), opts);
            }
        }
        (who.name.clone(), 0)
    }

    fn grant_table(
        &mut self,
        privileges: &PrivilegeSpec,
        tables: &TableSet,
        grantees: &[String],
        with_grant_option: bool,
    ) -> Result<Output> {
        if with_grant_option && grantees.iter().any(String::is_empty) {
            return Err(Error::new(
                SqlState::INVALID_GRANT_OPERATION,
                "grant options can only be granted to roles",
            ));
        }
        self.change_table_acls(
            privileges,
            tables,
            grantees,
            "GRANT",
            |acl, grantee, grantor, bits| {
                acl_grant(
                    acl,
                    grantee,
                    grantor,
                    bits,
                    if with_grant_option { bits } else { 0 },
                );
                Ok(())
            },
        )
    }

    fn revoke_table(
        &mut self,
        privileges: &PrivilegeSpec,
        tables: &TableSet,
        grantees: &[String],
        grant_option_for: bool,
        cascade: bool,
    ) -> Result<Output> {
        self.change_table_acls(
            privileges,
            tables,
            grantees,
            "REVOKE",
            |acl, grantee, grantor, bits| {
                acl_revoke(acl, grantee, grantor, bits, grant_option_for, cascade)
            },
        )
    }

    /// The shared part of GRANT and REVOKE on tables: permission checks,
    /// then `apply` to the table ACL and, for column lists, to the column
    /// ACLs. A table-level REVOKE also revokes the privilege on every column.
    fn change_table_acls(
        &mut self,
        privileges: &PrivilegeSpec,
        tables: &TableSet,
        grantees: &[String],
        tag: &'static str,
        apply: impl Fn(&mut Vec<AclItem>, &str, &str, u16) -> Result<()>,
    ) -> Result<Output> {
        self.check_grantees(grantees)?;
        let names = self.resolve_tables(tables)?;
        let who = self.principal().clone();
        let catalog = self.engine.catalog();
        let (table_bits, column_grants): (u16, Vec<(u16, Vec<String>)>) = match privileges {
            PrivilegeSpec::All => (ALL_TABLE_PRIVILEGES, vec![]),
            PrivilegeSpec::List(list) => {
                let mut t = 0;
                let mut c = Vec::new();
                for (p, cols) in list {
                    match cols {
                        None => t |= p.bit(),
                        Some(cols) => c.push((p.bit(), cols.clone())),
                    }
                }
                (t, c)
            }
        };
        let mut notices = Vec::new();
        let mut plans: Vec<(String, String, u16)> = Vec::new();
        for name in &names {
            let def = &catalog.table(name)?.def;
            for (_, cols) in &column_grants {
                for c in cols {
                    if def.column_index(c).is_none() {
                        return Err(Error::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{c}\" of relation \"{name}\" does not exist"),
                        ));
                    }
                }
            }
            let (grantor, allowed) = Self::grantor_for(&who, def);
            let wanted = table_bits | column_grants.iter().fold(0, |a, (b, _)| a | b);
            if allowed & wanted == 0 {
                if who.table_bits(def) == 0 && !who.has(def, Privilege::Select, None) {
                    return Err(permission_denied(name));
                }
                let msg = if tag == "GRANT" {
                    format!("no privileges were granted for \"{name}\"")
                } else {
                    format!("no privileges could be revoked for \"{name}\"")
                };
                notices.push(Notice::warning(
                    if tag == "GRANT" {
                        SqlState::WARNING_PRIVILEGE_NOT_GRANTED
                    } else {
                        SqlState::WARNING_PRIVILEGE_NOT_REVOKED
                    },
                    msg,
                ));
            } else if allowed & wanted != wanted && !matches!(privileges, PrivilegeSpec::All) {
                let msg = if tag == "GRANT" {
                    format!("not all privileges were granted for \"{name}\"")
                } else {
                    format!("not all privileges could be revoked for \"{name}\"")
                };
                notices.push(Notice::warning(
                    if tag == "GRANT" {
                        SqlState::WARNING_PRIVILEGE_NOT_GRANTED
                    } else {
                        SqlState::WARNING_PRIVILEGE_NOT_REVOKED
                    },
                    msg,
                ));
            }
            plans.push((name.clone(), grantor, allowed));
        }
        let revoke = tag == "REVOKE";
        self.engine.alter_table_defs(|def| {
            let Some((_, grantor, allowed)) = plans.iter().find(|(n, _, _)| *n == def.name) else {
                return Ok(false);
            };
            let bits = table_bits & allowed;
            if bits != 0 {
                let mut acl = acl::table_acl(def);
                for g in grantees {
                    apply(&mut acl, g, grantor, bits)?;
                }
                def.acl = Some(acl);
                if revoke && bits & COLUMN_PRIVILEGES != 0 {
                    for acl in def.column_acl.values_mut() {
                        for g in grantees {
                            apply(acl, g, grantor, bits & COLUMN_PRIVILEGES)?;
                        }
                    }
                }
            }
            for (bit, cols) in &column_grants {
                if bit & allowed == 0 {
                    continue;
                }
                for c in cols {
                    let acl = def.column_acl.entry(c.clone()).or_default();
                    for g in grantees {
                        apply(acl, g, grantor, *bit)?;
                    }
                }
            }
            def.column_acl.retain(|_, acl| !acl.is_empty());
            Ok(true)
        })?;
        Ok(Output::Command(CommandComplete {
            tag: tag.into(),
            parameter_status: vec![],
            notices,
        }))
    }

    /// May the current role grant or revoke membership in `role`?
    fn check_role_admin(&mut self, role: &Role) -> Result<()> {
        let who = self.principal().clone();
        if who.superuser {
            return Ok(());
        }
        if role.superuser {
            return Err(denied(format!(
                "must be superuser to alter superusers (role \"{}\")",
                role.name
            )));
        }
        if who.createrole {
            return Ok(());
        }
        let store = &self.engine.roles;
        let admin = who.privileges_of.iter().any(|r| {
            store.get(r).is_some_and(|me| {
                me.member_of
                    .iter()
                    .any(|m| m.role == role.name && m.admin_option)
            })
        });
        if admin {
            Ok(())
        } else {
            Err(denied(format!(
                "must have admin option on role \"{}\"",
                role.name
            )))
        }
    }

    fn grant_role(
        &mut self,
        roles: &[String],
        grantees: &[String],
        admin_option: bool,
    ) -> Result<Output> {
        let store = self.engine.roles.clone();
        let grantor = self.auth.current_user().to_string();
        let mut notices = Vec::new();
        for r in roles {
            let role = store.get(r).ok_or_else(|| undefined_role(r))?;
            self.check_role_admin(&role)?;
            for g in grantees {
                if g.is_empty() {
                    return Err(Error::syntax("cannot grant a role to PUBLIC"));
                }
                let member = store.get(g).ok_or_else(|| undefined_role(g))?;
                if acl::is_member_of(&store, r, g) {
                    return Err(Error::new(
                        SqlState::INVALID_GRANT_OPERATION,
                        format!("role \"{g}\" is a member of role \"{r}\""),
                    ));
                }
                if let Some(m) = member.member_of.iter().find(|m| &m.role == r) {
                    if !admin_option || m.admin_option {
                        notices.push(Notice::info(
                            SqlState::SUCCESSFUL_COMPLETION,
                            format!("role \"{g}\" is already a member of role \"{r}\""),
                        ));
                        continue;
                    }
                }
                store
                    .modify(|all| {
                        let m = all
                            .get_mut(g)
                            .ok_or_else(|| joltdb_auth::AuthError::UnknownRole(g.clone()))?;
                        match m.member_of.iter_mut().find(|x| &x.role == r) {
                            Some(x) => x.admin_option = true,
                            None => m.member_of.push(Membership {
                                role: r.clone(),
                                admin_option,
                                grantor: grantor.clone(),
                            }),
                        }
                        Ok(())
                    })
                    .map_err(auth_error)?;
            }
        }
        Ok(Output::Command(CommandComplete {
            tag: "GRANT ROLE".into(),
            parameter_status: vec![],
            notices,
        }))
    }

    fn revoke_role(
        &mut self,
        roles: &[String],
        grantees: &[String],
        admin_option_for: bool,
    ) -> Result<Output> {
        let store = self.engine.roles.clone();
        let mut notices = Vec::new();
        for r in roles {
            let role = store.get(r).ok_or_else(|| undefined_role(r))?;
            self.check_role_admin(&role)?;
            for g in grantees {
                let member = store.get(g).ok_or_else(|| undefined_role(g))?;
                if !member.member_of.iter().any(|m| &m.role == r) {
                    notices.push(Notice::warning(
                        SqlState::WARNING_PRIVILEGE_NOT_REVOKED,
                        format!("role \"{g}\" has not been granted membership in role \"{r}\""),
                    ));
                    continue;
                }
                store
                    .modify(|all| {
                        if let Some(m) = all.get_mut(g) {
                            if admin_option_for {
                                for x in m.member_of.iter_mut().filter(|x| &x.role == r) {
                                    x.admin_option = false;
                                }
                            } else {
                                m.member_of.retain(|x| &x.role != r);
                            }
                        }
                        Ok(())
                    })
                    .map_err(auth_error)?;
            }
        }
        Ok(Output::Command(CommandComplete {
            tag: "REVOKE ROLE".into(),
            parameter_status: vec![],
            notices,
        }))
    }

    /// Adds the ParameterStatus of `is_superuser` and
    /// `session_authorization` to a completion.
    fn with_role_status(&mut self, out: Output) -> Output {
        self.apply_role_settings();
        match out {
            Output::Command(mut c) => {
                for k in ["is_superuser", "session_authorization"] {
                    c.parameter_status
                        .push((k.to_string(), self.settings[k].clone()));
                }
                Output::Command(c)
            }
            other => other,
        }
    }

    fn set_role(&mut self, role: Option<&str>, tag: &'static str) -> Result<Output> {
        match role {
            None => self.auth.role = None,
            Some(r) => {
                let store = &self.engine.roles;
                if store.get(r).is_none() {
                    return Err(undefined_role(r));
                }
                let session_user = self.auth.session_user.clone();
                let allowed = Principal::load(store, &session_user).superuser
                    || acl::is_member_of(store, &session_user, r);
                if !allowed {
                    return Err(denied(format!("permission denied to set role \"{r}\"")));
                }
                self.auth.role = Some(r.to_string());
            }
        }
        Ok(self.with_role_status(command(tag)))
    }

    fn set_session_authorization(
        &mut self,
        user: Option<&str>,
        tag: &'static str,
    ) -> Result<Output> {
        let target = user.unwrap_or(&self.user).to_string();
        if target != self.user {
            let authenticated_superuser = self
                .engine
                .roles
                .get(&self.user)
                .is_some_and(|r| r.superuser);
            if !authenticated_superuser {
                return Err(denied("permission denied to set session authorization"));
            }
            if self.engine.roles.get(&target).is_none() {
                return Err(undefined_role(&target));
            }
        }
        self.auth.session_user = target;
        self.auth.role = None;
        Ok(self.with_role_status(command(tag)))
    }
}

impl Engine {
    /// `has_table_privilege(role, table, privileges)`: whether `role`
    /// holds any of the comma-separated `privileges` (each optionally
    /// `WITH GRANT OPTION`) on `table`, from the table's real ACL.
    pub fn has_table_privilege(&self, role: &str, table: &str, privileges: &str) -> Result<bool> {
        let catalog = self.inner.catalog();
        acl::role_has_table_privilege(
            &self.inner.roles,
            role,
            &catalog.table(table)?.def,
            privileges,
        )
    }

    /// A table's `relacl` as aclitem texts (`alice=arwdDxt/owner`), or
    /// `None` while it has the default ACL (psql's `\dp` then shows an
    /// empty cell).
    pub fn table_relacl(&self, table: &str) -> Result<Option<Vec<String>>> {
        let catalog = self.inner.catalog();
        Ok(acl::relacl_text(&catalog.table(table)?.def))
    }

    /// A table's owner.
    pub fn table_owner(&self, table: &str) -> Result<String> {
        Ok(self.inner.catalog().table(table)?.def.owner.clone())
    }

    /// Rows for `information_schema.role_table_grants` /
    /// `table_privileges`: (grantor, grantee, table, privilege type,
    /// is_grantable) for every table.
    pub fn table_grants(&self) -> Vec<(String, String, String, &'static str, bool)> {
        let catalog = self.inner.catalog();
        let mut out = Vec::new();
        for t in catalog.tables.values() {
            for (grantor, grantee, p, g) in acl::table_grants(&t.def) {
                out.push((grantor, grantee, t.def.name.clone(), p, g));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::EngineConfig;

    async fn run(s: &mut Session, sql: &str) -> Result<()> {
        for stmt in s.parse(sql)? {
            let p = s.prepare(&stmt, &[])?;
            if let Output::Rows(mut c) = s.execute(&p, vec![]).await? {
                let mut rows = Vec::new();
                s.fetch(&mut c, 0, &mut rows).await?;
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn privileges_answer_from_the_acl() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineConfig {
            data_dir: dir.path().to_path_buf(),
            partitions: 1,
            wal_segment_size: 1 << 20,
            checkpoint: crate::checkpoint::CheckpointSettings {
                interval: None,
                log_bytes: 0,
                archive_dir: None,
                archive_retention: None,
            },
            backup_dir: None,
        })
        .unwrap();
        engine
            .roles()
            .bootstrap_superuser(SUPERUSER, Some("pw"))
            .unwrap();
        let mut admin = engine.new_session(SUPERUSER, "joltdb", &[]).unwrap();
        run(
            &mut admin,
            "CREATE TABLE t (a int PRIMARY KEY, b text);
             CREATE ROLE alice LOGIN;
             GRANT SELECT (b) ON t TO alice;
             GRANT INSERT ON t TO alice WITH GRANT OPTION;
             GRANT DELETE ON t TO PUBLIC",
        )
        .await
        .unwrap();
        assert!(engine.has_table_privilege("alice", "t", "insert").unwrap());
        assert!(engine
            .has_table_privilege("alice", "t", "INSERT WITH GRANT OPTION")
            .unwrap());
        assert!(engine.has_table_privilege("alice", "t", "delete").unwrap());
        assert!(!engine
            .has_table_privilege("alice", "t", "select, update")
            .unwrap());
        assert!(engine
            .has_table_privilege(SUPERUSER, "t", "truncate")
            .unwrap());
        assert_eq!(
            engine.table_relacl("t").unwrap().unwrap(),
            vec!["joltdb=arwdDxt/joltdb", "alice=a*/joltdb", "=d/joltdb"]
        );

        let mut alice = engine.new_session("alice", "joltdb", &[]).unwrap();
        alice
            .check_table_privilege("t", Privilege::Select, &["b"])
            .unwrap();
        let err = alice
            .check_table_privilege("t", Privilege::Select, &["a", "b"])
            .unwrap_err();
        assert_eq!(err.state, SqlState::INSUFFICIENT_PRIVILEGE);
        assert_eq!(
            alice
                .require_role_membership(acl::BACKUP_ROLE)
                .unwrap_err()
                .state,
            SqlState::INSUFFICIENT_PRIVILEGE
        );
        run(&mut admin, "GRANT joltdb_backup TO alice")
            .await
            .unwrap();
        alice.require_role_membership(acl::BACKUP_ROLE).unwrap();
        assert_eq!(
            alice.check_table_owner("t").unwrap_err().state,
            SqlState::INSUFFICIENT_PRIVILEGE
        );
        admin.check_table_owner("t").unwrap();

        // Restoring over a table takes the restore role and the table's
        // ownership; over a whole database, a superuser.
        run(&mut admin, "BACKUP TABLE t TO 't.backup'")
            .await
            .unwrap();
        run(&mut admin, "BACKUP DATABASE TO 'all.backup'")
            .await
            .unwrap();
        run(&mut admin, "GRANT joltdb_restore TO alice")
            .await
            .unwrap();
        for sql in [
            "RESTORE TABLE t FROM 't.backup' WITH (replace = true)",
            "RESTORE DATABASE FROM 'all.backup' WITH (replace = true)",
        ] {
            let err = run(&mut alice, sql).await.unwrap_err();
            assert_eq!(err.state, SqlState::INSUFFICIENT_PRIVILEGE, "{sql}");
        }
        run(&mut alice, "RESTORE TABLE t FROM 't.backup' AS t_copy")
            .await
            .unwrap();
        // The restored table keeps the owner the backup recorded.
        let err = run(
            &mut alice,
            "RESTORE TABLE t FROM 't.backup' AS t_copy WITH (replace = true)",
        )
        .await
        .unwrap_err();
        assert_eq!(err.state, SqlState::INSUFFICIENT_PRIVILEGE);
        run(
            &mut admin,
            "RESTORE TABLE t FROM 't.backup' WITH (replace = true)",
        )
        .await
        .unwrap();
    }
}
