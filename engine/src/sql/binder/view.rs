//! Binding views: CREATE [OR REPLACE] VIEW, and a view named in FROM,
//! which is bound as its defining query (a subquery under the view's name).
//!
//! The view's query is bound with its own privilege needs, which are
//! checked against the view's owner (see [`crate::acl::check_view_access`]);
//! the statement itself needs SELECT on the view.

use super::query::rename_columns;
use super::*;
use crate::acl::{AccessNeeds, Privilege, ViewAccess};
use crate::engine::NewView;

/// The output type a view records for a query column (`unknown` literals
/// become `text`, as in PostgreSQL).
fn view_column_type(ty: DataType) -> DataType {
    if ty == DataType::Unknown {
        DataType::Text
    } else {
        ty
    }
}

fn parse_view_query(name: &str, text: &str) -> Result<ast::Query> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut stmts = sqlparser::parser::Parser::parse_sql(&dialect, text).map_err(|e| {
        Error::new(
            SqlState::DATA_CORRUPTED,
            format!("the stored query of view \"{name}\" does not parse: {e}"),
        )
    })?;
    match (stmts.pop(), stmts.is_empty()) {
        (Some(ast::Statement::Query(q)), true) => Ok(*q),
        _ => Err(Error::new(
            SqlState::DATA_CORRUPTED,
            format!("the stored query of view \"{name}\" is not a single query"),
        )),
    }
}

/// A data-changing statement aimed at a view (55000, PostgreSQL's error
/// for views that are not automatically updatable).
pub(super) fn refuse_view_target(def: &crate::catalog::TableDef, action: &str) -> Result<()> {
    if !def.is_view() {
        return Ok(());
    }
    Err(Error::new(
        SqlState("55000"),
        format!("cannot {action} view \"{}\"", def.name),
    )
    .with_detail("Views are read-only."))
}

impl Binder<'_> {
    /// Binds a view's query on its own: no outer scopes, no WITH queries of
    /// the statement around it, and privilege needs collected apart.
    fn bind_view_body(&mut self, query: &ast::Query) -> Result<(Plan, Vec<OutCol>, AccessNeeds)> {
        let saved_needs = self.needs.replace(AccessNeeds::default());
        let saved_ctes = std::mem::take(&mut self.ctes);
        let result = self.bind_query(query, &[]);
        self.ctes = saved_ctes;
        let needs = self.needs.replace(saved_needs);
        let (plan, cols) = result?;
        Ok((plan, cols, needs))
    }

    pub(super) fn bind_create_view(&mut self, cv: &ast::CreateView) -> Result<Command> {
        if cv.materialized {
            return Err(Error::unsupported("materialized views are not supported"));
        }
        if cv.temporary {
            return Err(Error::unsupported("temporary views are not supported"));
        }
        if !matches!(cv.options, ast::CreateTableOptions::None) {
            return Err(Error::unsupported("view options are not supported"));
        }
        let name = object_name(&cv.name)?;
        let params_before = self.params.len();
        let (_, cols, needs) = self.bind_view_body(&cv.query)?;
        if self.params.len() > params_before {
            return Err(Error::new(
                SqlState::UNDEFINED_PARAMETER,
                format!("there is no parameter ${}", params_before + 1),
            ));
        }
        if cv.columns.len() > cols.len() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "CREATE VIEW specifies more column names than columns",
            ));
        }
        let mut columns: Vec<(String, DataType)> = Vec::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            let cname = cv
                .columns
                .get(i)
                .map(|v| ident(&v.name))
                .unwrap_or_else(|| c.name.clone());
            if columns.iter().any(|(n, _)| *n == cname) {
                return Err(Error::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{cname}\" specified more than once"),
                ));
            }
            columns.push((cname, view_column_type(c.ty)));
        }
        Ok(Command::CreateView(NewView {
            name,
            columns,
            query: cv.query.to_string(),
            depends_on: needs.tables.iter().map(|t| t.name.clone()).collect(),
            or_replace: cv.or_replace,
        }))
    }

    /// A view in FROM: its query, under the view's (or the alias's) name.
    pub(super) fn bind_view_reference(
        &mut self,
        table: &Arc<Table>,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(Plan, Scope)> {
        let def = &table.def;
        let Some(view) = &def.view else {
            return Err(Error::internal("bind_view_reference on a table"));
        };
        self.needs.borrow_mut().require(def, Privilege::Select);
        let query = parse_view_query(&def.name, &view.query)?;
        let (plan, cols, needs) = self.bind_view_body(&query)?;
        let matches = cols.len() == def.columns.len()
            && cols
                .iter()
                .zip(&def.columns)
                .all(|(c, d)| view_column_type(c.ty) == d.data_type);
        if !matches {
            return Err(Error::new(
                SqlState::INVALID_TABLE_DEFINITION,
                format!(
                    "view \"{}\" no longer matches the relations it reads; create it again",
                    def.name
                ),
            ));
        }
        self.needs.borrow_mut().views.push(ViewAccess {
            owner: def.owner.clone(),
            needs,
        });
        let mut scope = self.scope_for_table(table, alias.map(|a| ident(&a.name)));
        if let Some(a) = alias {
            rename_columns(&mut scope, &a.columns)?;
        }
        Ok((plan, scope))
    }
}
