//! CREATE DATABASE and DROP DATABASE in a session: the transaction-block
//! and privilege checks PostgreSQL makes, then the list of databases
//! (see [`crate::databases`]) does the work.

use super::{command, command_with_notice, Notice, Output, Session};
use crate::databases::{DatabaseCommands, DatabaseStatement};
use crate::error::{Error, Result, SqlState};

impl Session {
    pub(super) async fn run_database_statement(
        &mut self,
        stmt: &DatabaseStatement,
    ) -> Result<Output> {
        let tag = match stmt {
            DatabaseStatement::Create { .. } => "CREATE DATABASE",
            DatabaseStatement::Drop { .. } => "DROP DATABASE",
        };
        if self.txn.as_ref().is_some_and(|t| t.explicit) || self.batch {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                format!("{tag} cannot run inside a transaction block"),
            ));
        }
        let Some(databases) = DatabaseCommands::of(&self.engine) else {
            return Err(Error::unsupported(format!(
                "{tag} needs the joltdb server's list of databases"
            )));
        };
        match stmt {
            DatabaseStatement::Create {
                name,
                owner,
                template,
            } => {
                self.check_create_database(owner.as_deref())?;
                if let Some(t) = template {
                    return Err(match databases.find(t) {
                        Some(_) => Error::unsupported(format!(
                            "cannot copy database \"{t}\": TEMPLATE may only be template0 or template1"
                        ))
                        .with_detail("A new joltdb database always starts empty."),
                        None => Error::new(
                            SqlState("3D000"),
                            format!("template database \"{t}\" does not exist"),
                        ),
                    });
                }
                let owner = owner
                    .clone()
                    .unwrap_or_else(|| self.auth.current_user().to_string());
                databases.create(name, &owner)?;
                Ok(command(tag))
            }
            DatabaseStatement::Drop {
                name,
                if_exists,
                force,
            } => {
                let Some(info) = databases.find(name) else {
                    if *if_exists {
                        return Ok(command_with_notice(
                            tag,
                            Notice::info(
                                SqlState::SUCCESSFUL_COMPLETION,
                                format!("database \"{name}\" does not exist, skipping"),
                            ),
                        ));
                    }
                    return Err(Error::new(
                        SqlState("3D000"),
                        format!("database \"{name}\" does not exist"),
                    ));
                };
                let me = crate::acl::Principal::load(&self.engine.roles, self.auth.current_user());
                if !(me.superuser || me.privileges_of.contains(&info.owner)) {
                    return Err(Error::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        format!("must be owner of database {name}"),
                    ));
                }
                databases.drop_database(&info, *force).await?;
                Ok(command(tag))
            }
        }
    }

    /// As in PostgreSQL: the current role needs CREATEDB (or superuser),
    /// and OWNER must be a role it is a member of.
    fn check_create_database(&mut self, owner: Option<&str>) -> Result<()> {
        let roles = self.engine.roles.clone();
        let current = self.auth.current_user().to_string();
        let role = roles.get(&current);
        let superuser = role.as_ref().is_some_and(|r| r.superuser);
        if !(superuser || role.as_ref().is_some_and(|r| r.createdb)) {
            return Err(Error::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                "permission denied to create database",
            ));
        }
        if let Some(owner) = owner {
            if roles.get(owner).is_none() {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("role \"{owner}\" does not exist"),
                ));
            }
            if !superuser && !crate::acl::is_member_of(&roles, &current, owner) {
                return Err(Error::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    format!("must be member of role \"{owner}\""),
                ));
            }
        }
        Ok(())
    }
}
