//! Role and privilege statements in bound form: CREATE/ALTER/DROP ROLE
//! (and CREATE USER), GRANT/REVOKE on tables and of roles, SET ROLE and
//! SET SESSION AUTHORIZATION. Names are resolved when they run, against
//! the roles and catalog of that moment.

use super::binder::{ident, object_name};
use crate::acl::Privilege;
use crate::error::{Error, Result, SqlState};
use sqlparser::ast;

/// Role attributes given in CREATE ROLE / ALTER ROLE; `None` = not given.
#[derive(Clone, Debug, Default)]
pub struct RoleOptions {
    /// `Some(None)` is PASSWORD NULL.
    pub password: Option<Option<String>>,
    pub login: Option<bool>,
    pub superuser: Option<bool>,
    pub createrole: Option<bool>,
    pub createdb: Option<bool>,
    pub inherit: Option<bool>,
    /// `Some(None)` is VALID UNTIL 'infinity'.
    pub valid_until: Option<Option<String>>,
    pub in_role: Vec<String>,
}

/// Which privileges a GRANT or REVOKE names.
#[derive(Clone, Debug)]
pub enum PrivilegeSpec {
    All,
    /// Each privilege with its column list (`None` = the whole table).
    List(Vec<(Privilege, Option<Vec<String>>)>),
}

/// The tables a GRANT or REVOKE applies to.
#[derive(Clone, Debug)]
pub enum TableSet {
    Tables(Vec<String>),
    /// ALL TABLES IN SCHEMA public.
    AllInPublic,
}

#[derive(Clone, Debug)]
pub enum RoleCommand {
    CreateRole {
        name: String,
        options: RoleOptions,
        if_not_exists: bool,
    },
    AlterRole {
        name: String,
        options: RoleOptions,
    },
    RenameRole {
        name: String,
        new_name: String,
    },
    DropRole {
        names: Vec<String>,
        if_exists: bool,
    },
    GrantTable {
        privileges: PrivilegeSpec,
        tables: TableSet,
        /// Role names; the empty string is PUBLIC.
        grantees: Vec<String>,
        with_grant_option: bool,
    },
    RevokeTable {
        privileges: PrivilegeSpec,
        tables: TableSet,
        grantees: Vec<String>,
        grant_option_for: bool,
        cascade: bool,
    },
    GrantRole {
        roles: Vec<String>,
        grantees: Vec<String>,
        admin_option: bool,
    },
    RevokeRole {
        roles: Vec<String>,
        grantees: Vec<String>,
        admin_option_for: bool,
    },
    /// SET ROLE name / SET ROLE NONE / RESET ROLE (`None`), with its tag.
    SetRole(Option<String>, &'static str),
    /// SET SESSION AUTHORIZATION name / DEFAULT (`None`), with its tag.
    SetSessionAuthorization(Option<String>, &'static str),
}

fn string_value(e: &ast::Expr, what: &str) -> Result<String> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => {
                Ok(s.clone())
            }
            _ => Err(Error::syntax(format!("{what} must be a string literal"))),
        },
        _ => Err(Error::syntax(format!("{what} must be a string literal"))),
    }
}

fn password_of(p: &ast::Password) -> Result<Option<String>> {
    match p {
        ast::Password::NullPassword => Ok(None),
        ast::Password::Password(e) => {
            if let ast::Expr::Value(v) = e {
                if matches!(v.value, ast::Value::Null) {
                    return Ok(None);
                }
            }
            string_value(e, "password").map(Some)
        }
    }
}

fn valid_until_of(e: &ast::Expr) -> Result<Option<String>> {
    let s = string_value(e, "VALID UNTIL")?;
    Ok(if s.trim().eq_ignore_ascii_case("infinity") {
        None
    } else {
        Some(s)
    })
}

fn unsupported_option(what: &str) -> Error {
    Error::unsupported(format!("role option {what} is not supported"))
}

/// CREATE ROLE (and CREATE USER, which the pre-parser turns into CREATE
/// ROLE ... LOGIN).
pub fn bind_create_role(cr: &ast::CreateRole) -> Result<RoleCommand> {
    if cr.names.len() != 1 {
        return Err(Error::syntax("CREATE ROLE takes one role name"));
    }
    if cr.bypassrls.is_some() || cr.replication.is_some() {
        return Err(unsupported_option("BYPASSRLS/REPLICATION"));
    }
    if cr.connection_limit.is_some() {
        return Err(unsupported_option("CONNECTION LIMIT"));
    }
    if !cr.role.is_empty() || !cr.user.is_empty() || !cr.admin.is_empty() {
        return Err(unsupported_option("ROLE/USER/ADMIN"));
    }
    let in_role = cr.in_role.iter().chain(&cr.in_group).map(ident).collect();
    Ok(RoleCommand::CreateRole {
        name: object_name(&cr.names[0])?,
        if_not_exists: cr.if_not_exists,
        options: RoleOptions {
            password: cr.password.as_ref().map(password_of).transpose()?,
            login: cr.login,
            superuser: cr.superuser,
            createrole: cr.create_role,
            createdb: cr.create_db,
            inherit: cr.inherit,
            valid_until: cr.valid_until.as_ref().map(valid_until_of).transpose()?,
            in_role,
        },
    })
}

pub fn bind_alter_role(
    name: &ast::Ident,
    operation: &ast::AlterRoleOperation,
) -> Result<RoleCommand> {
    let name = ident(name);
    match operation {
        ast::AlterRoleOperation::RenameRole { role_name } => Ok(RoleCommand::RenameRole {
            name,
            new_name: ident(role_name),
        }),
        ast::AlterRoleOperation::WithOptions { options } => {
            let mut o = RoleOptions::default();
            for opt in options {
                match opt {
                    ast::RoleOption::CreateDB(v) => o.createdb = Some(*v),
                    ast::RoleOption::CreateRole(v) => o.createrole = Some(*v),
                    ast::RoleOption::Inherit(v) => o.inherit = Some(*v),
                    ast::RoleOption::Login(v) => o.login = Some(*v),
                    ast::RoleOption::SuperUser(v) => o.superuser = Some(*v),
                    ast::RoleOption::Password(p) => o.password = Some(password_of(p)?),
                    ast::RoleOption::ValidUntil(e) => o.valid_until = Some(valid_until_of(e)?),
                    other => return Err(unsupported_option(&other.to_string())),
                }
            }
            Ok(RoleCommand::AlterRole { name, options: o })
        }
        other => Err(Error::unsupported(format!(
            "ALTER ROLE {} is not supported",
            other.to_string().split_whitespace().next().unwrap_or("")
        ))),
    }
}

fn grantee_names(grantees: &[ast::Grantee]) -> Result<Vec<String>> {
    grantees
        .iter()
        .map(|g| match (&g.grantee_type, &g.name) {
            (ast::GranteesType::Public, _) => Ok(String::new()),
            (_, Some(ast::GranteeName::ObjectName(n))) => {
                let n = object_name(n)?;
                // `public` unquoted is the PUBLIC pseudo-role.
                Ok(if n == "public" { String::new() } else { n })
            }
            _ => Err(Error::syntax("unsupported grantee")),
        })
        .collect()
}

fn privilege_spec(p: &ast::Privileges) -> Result<PrivilegeSpec> {
    let actions = match p {
        ast::Privileges::All { .. } => return Ok(PrivilegeSpec::All),
        ast::Privileges::Actions(a) => a,
    };
    let cols = |c: &Option<Vec<ast::Ident>>| c.as_ref().map(|v| v.iter().map(ident).collect());
    let mut out = Vec::new();
    for a in actions {
        out.push(match a {
            ast::Action::Select { columns } => (Privilege::Select, cols(columns)),
            ast::Action::Insert { columns } => (Privilege::Insert, cols(columns)),
            ast::Action::Update { columns } => (Privilege::Update, cols(columns)),
            ast::Action::References { columns } => (Privilege::References, cols(columns)),
            ast::Action::Delete => (Privilege::Delete, None),
            ast::Action::Truncate => (Privilege::Truncate, None),
            ast::Action::Trigger => (Privilege::Trigger, None),
            other => {
                return Err(Error::new(
                    SqlState::INVALID_GRANT_OPERATION,
                    format!("invalid privilege type {other} for relation"),
                ))
            }
        });
    }
    Ok(PrivilegeSpec::List(out))
}

fn table_set(objects: &Option<ast::GrantObjects>) -> Result<TableSet> {
    match objects {
        Some(ast::GrantObjects::Tables(names)) => Ok(TableSet::Tables(
            names.iter().map(object_name).collect::<Result<_>>()?,
        )),
        Some(ast::GrantObjects::AllTablesInSchema { schemas }) => {
            for s in schemas {
                let n = object_name(s)?;
                if n != "public" {
                    return Err(Error::new(
                        SqlState::INVALID_SCHEMA_NAME,
                        format!("schema \"{n}\" does not exist"),
                    ));
                }
            }
            Ok(TableSet::AllInPublic)
        }
        Some(other) => Err(Error::unsupported(format!(
            "GRANT/REVOKE on {other} is not supported"
        ))),
        None => Err(Error::syntax("GRANT/REVOKE needs ON objects")),
    }
}

pub fn bind_grant(g: &ast::Grant) -> Result<RoleCommand> {
    Ok(RoleCommand::GrantTable {
        privileges: privilege_spec(&g.privileges)?,
        tables: table_set(&g.objects)?,
        grantees: grantee_names(&g.grantees)?,
        with_grant_option: g.with_grant_option,
    })
}

pub fn bind_revoke(r: &ast::Revoke) -> Result<RoleCommand> {
    Ok(RoleCommand::RevokeTable {
        privileges: privilege_spec(&r.privileges)?,
        tables: table_set(&r.objects)?,
        grantees: grantee_names(&r.grantees)?,
        grant_option_for: r.grant_option_for,
        cascade: matches!(r.cascade, Some(ast::CascadeOption::Cascade)),
    })
}

pub fn bind_grant_role(g: &ast::GrantRole) -> Result<RoleCommand> {
    let mut admin_option = false;
    for o in &g.options {
        if !o.name.value.eq_ignore_ascii_case("admin") {
            return Err(Error::unsupported(format!(
                "GRANT ... WITH {} is not supported",
                o.name.value
            )));
        }
        admin_option = !matches!(o.value, ast::RoleGrantOptionValue::False);
    }
    Ok(RoleCommand::GrantRole {
        roles: g.roles.iter().map(ident).collect(),
        grantees: grantee_names(&g.grantees)?,
        admin_option,
    })
}

pub fn bind_revoke_role(r: &ast::RevokeRole) -> Result<RoleCommand> {
    let admin_option_for = match &r.option_for {
        None => false,
        Some(o) if o.value.eq_ignore_ascii_case("admin") => true,
        Some(o) => {
            return Err(Error::unsupported(format!(
                "REVOKE {} OPTION FOR is not supported",
                o.value
            )))
        }
    };
    Ok(RoleCommand::RevokeRole {
        roles: r.roles.iter().map(ident).collect(),
        grantees: grantee_names(&r.grantees)?,
        admin_option_for,
    })
}

pub fn bind_set_session_authorization(p: &ast::SetSessionAuthorizationParam) -> RoleCommand {
    match &p.kind {
        ast::SetSessionAuthorizationParamKind::Default => {
            RoleCommand::SetSessionAuthorization(None, "SET")
        }
        ast::SetSessionAuthorizationParamKind::User(u) => {
            RoleCommand::SetSessionAuthorization(Some(ident(u)), "SET")
        }
    }
}
