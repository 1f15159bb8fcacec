-- Run by tests/psql.rs; describe.out holds what PostgreSQL 15 prints.
CREATE TABLE items (
    id integer PRIMARY KEY,
    name text NOT NULL,
    price numeric(10,2) DEFAULT 0,
    added timestamp
);
\dt
\d items
