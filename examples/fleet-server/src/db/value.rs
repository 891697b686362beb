//! Parameter and column values shared by both databases.

use super::DbError;

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// An integer (`BIGINT`).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BLOB` / `BYTEA`).
    Blob(Vec<u8>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<u32> for Val {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<u16> for Val {
    fn from(v: u16) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}
/// Unsigned 64-bit values (device ids, sequences) are stored as their two's-complement `i64`
/// bit pattern so that the full range round-trips; [`Row::u64`] reads them back.
impl From<u64> for Val {
    fn from(v: u64) -> Self {
        Self::Int(v as i64)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Self::Blob(v)
    }
}
impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Self {
        Self::Blob(v.to_vec())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Val>);

impl Row {
    fn get(&self, i: usize) -> &Val {
        self.0.get(i).unwrap_or(&Val::Null)
    }

    fn wrong(i: usize, expected: &'static str) -> DbError {
        DbError::Column {
            column: i,
            expected,
            sql: String::new(),
        }
    }

    /// Column `i` as an integer.
    ///
    /// # Errors
    /// [`DbError::Column`] when it is not one.
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.get(i) {
            Val::Int(v) => Ok(*v),
            _ => Err(Self::wrong(i, "an integer")),
        }
    }

    /// Column `i` as an unsigned 64-bit value (see `From<u64> for Val`).
    ///
    /// # Errors
    /// [`DbError::Column`] when it is not an integer.
    pub fn u64(&self, i: usize) -> Result<u64, DbError> {
        self.int(i).map(|v| v as u64)
    }

    /// Column `i` as an integer or NULL.
    ///
    /// # Errors
    /// [`DbError::Column`] when it is something else.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.get(i) {
            Val::Null => Ok(None),
            Val::Int(v) => Ok(Some(*v)),
            _ => Err(Self::wrong(i, "an integer or NULL")),
        }
    }

    /// Column `i` as text.
    ///
    /// # Errors
    /// [`DbError::Column`] when it is not text.
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.get(i) {
            Val::Text(v) => Ok(v.clone()),
            _ => Err(Self::wrong(i, "text")),
        }
    }

    /// Column `i` as text or NULL.
    ///
    /// # Errors
    /// [`DbError::Column`] when it is something else.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.get(i) {
            Val::Null => Ok(None),
            Val::Text(v) => Ok(Some(v.clone())),
            _ => Err(Self::wrong(i, "text or NULL")),
        }
    }

    /// Column `i` as bytes.
    ///
    /// # Errors
    /// [`DbError::Column`] when it is not bytes.
    pub fn blob(&self, i: usize) -> Result<Vec<u8>, DbError> {
        match self.get(i) {
            Val::Blob(v) => Ok(v.clone()),
            _ => Err(Self::wrong(i, "bytes")),
        }
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Self::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Self::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Self::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Self::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

impl Val {
    pub(super) fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Self {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Self::Null,
            ValueRef::Integer(i) => Self::Int(i),
            // The schema has no REAL columns; keep a value that sneaks in readable.
            ValueRef::Real(f) => Self::Text(f.to_string()),
            ValueRef::Text(t) => Self::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Self::Blob(b.to_vec()),
        }
    }
}

mod pg {
    use super::Val;
    use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

    type BoxError = Box<dyn core::error::Error + Sync + Send>;

    impl ToSql for Val {
        fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
            match self {
                Self::Null => Ok(IsNull::Yes),
                Self::Int(v) => match *ty {
                    Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                    Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                    Type::BOOL => (*v != 0).to_sql(ty, out),
                    _ => v.to_sql(ty, out),
                },
                Self::Text(v) => v.to_sql(ty, out),
                Self::Blob(v) => v.to_sql(ty, out),
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for Val {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
            Ok(match *ty {
                Type::INT8 => Self::Int(i64::from_sql(ty, raw)?),
                Type::INT4 => Self::Int(i64::from(i32::from_sql(ty, raw)?)),
                Type::INT2 => Self::Int(i64::from(i16::from_sql(ty, raw)?)),
                Type::BOOL => Self::Int(i64::from(bool::from_sql(ty, raw)?)),
                Type::BYTEA => Self::Blob(Vec::<u8>::from_sql(ty, raw)?),
                _ => Self::Text(String::from_sql(ty, raw)?),
            })
        }

        fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
            Ok(Self::Null)
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }
}
