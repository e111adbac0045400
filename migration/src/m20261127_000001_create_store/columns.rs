//! Column definitions in the few shapes the tables use, portable between SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

pub(super) fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

pub(super) fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

pub(super) fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

pub(super) fn bigint(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

pub(super) fn json(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().to_owned()
}

pub(super) fn json_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).json_binary().null().to_owned()
}

pub(super) fn bool_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).boolean().null().to_owned()
}
