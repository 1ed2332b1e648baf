//! omslake: an embedded columnar log store for Azure Log Analytics (OMS) and Office 365 JSON
//! exports. Data flows one way: `schema` → `ingest` → `store` → `query`, with `search`
//! translating the legacy OMS language to SQL from the schemas alone.

pub mod bytes;
pub mod generate;
pub mod ingest;
pub mod nulls;
pub mod query;
pub mod report;
pub mod schema;
pub mod search;
pub mod serve;
pub mod store;
pub mod time;
