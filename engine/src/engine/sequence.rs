//! CREATE SEQUENCE and DROP SEQUENCE.

use super::{duplicate_relation, sequence_from, EngineInner};
use crate::catalog::SequenceDef;
use crate::error::{Error, Result, SqlState};
use crate::sql::plan::NewSequence;
use crate::types::DataType;

fn invalid(msg: String) -> Error {
    Error::new(SqlState::INVALID_PARAMETER_VALUE, msg)
}

impl EngineInner {
    /// Creates a sequence; returns false when it existed and IF NOT EXISTS
    /// was given.
    pub fn create_sequence(&self, plan: &NewSequence) -> Result<bool> {
        let mut data = self.catalog_data.lock();
        if Self::relation_exists(&data, &plan.name) {
            if plan.if_not_exists {
                return Ok(false);
            }
            return Err(duplicate_relation(&plan.name));
        }
        let (type_min, type_max) = match plan.data_type {
            DataType::Int2 => (i16::MIN as i64, i16::MAX as i64),
            DataType::Int4 => (i32::MIN as i64, i32::MAX as i64),
            _ => (i64::MIN, i64::MAX),
        };
        let increment = plan.increment.unwrap_or(1);
        if increment == 0 {
            return Err(invalid("INCREMENT must not be zero".into()));
        }
        let min_value = plan
            .min_value
            .unwrap_or(if increment > 0 { 1 } else { type_min });
        let max_value = plan
            .max_value
            .unwrap_or(if increment > 0 { type_max } else { -1 });
        let type_name = plan.data_type.sql_name();
        for (what, v) in [("MINVALUE", min_value), ("MAXVALUE", max_value)] {
            if v < type_min || v > type_max {
                return Err(invalid(format!(
                    "{what} ({v}) is out of range for sequence data type {type_name}"
                )));
            }
        }
        if min_value >= max_value {
            return Err(invalid(format!(
                "MINVALUE ({min_value}) must be less than MAXVALUE ({max_value})"
            )));
        }
        let start = plan
            .start
            .unwrap_or(if increment > 0 { min_value } else { max_value });
        if start < min_value {
            return Err(invalid(format!(
                "START value ({start}) cannot be less than MINVALUE ({min_value})"
            )));
        }
        if start > max_value {
            return Err(invalid(format!(
                "START value ({start}) cannot be greater than MAXVALUE ({max_value})"
            )));
        }
        let mut next = data.clone();
        let def = SequenceDef {
            oid: next.next_oid,
            name: plan.name.clone(),
            increment,
            min_value,
            max_value,
            start,
            data_type: plan.data_type,
            cycle: plan.cycle,
            reserved_until: None,
        };
        next.next_oid += 1;
        next.sequences.insert(plan.name.clone(), def.clone());
        self.publish(&next, |snap| {
            snap.sequences.insert(def.name.clone(), sequence_from(&def));
        })?;
        *data = next;
        Ok(true)
    }

    /// Drops sequences; returns the names that did not exist (for notices).
    /// A sequence a column owns (serial) goes with its table.
    pub fn drop_sequences(&self, names: &[String], if_exists: bool) -> Result<Vec<String>> {
        let mut data = self.catalog_data.lock();
        let mut missing = Vec::new();
        for n in names {
            if !data.sequences.contains_key(n) {
                if if_exists {
                    missing.push(n.clone());
                    continue;
                }
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("sequence \"{n}\" does not exist"),
                ));
            }
            if let Some(t) = data.tables.values().find(|t| t.owned_sequences.contains(n)) {
                return Err(Error::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!("cannot drop sequence {n} because other objects depend on it"),
                )
                .with_detail(format!(
                    "default value for column {} of table {} depends on sequence {n}",
                    t.columns
                        .iter()
                        .find(|c| c.default.as_deref().is_some_and(|d| d.contains(n.as_str())))
                        .map(|c| c.name.as_str())
                        .unwrap_or("?"),
                    t.name
                ))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
        }
        let mut next = data.clone();
        for n in names {
            next.sequences.remove(n);
        }
        self.publish(&next, |snap| {
            for n in names {
                snap.sequences.remove(n);
            }
        })?;
        *data = next;
        Ok(missing)
    }
}
