-- Run by tests/psql.rs; basic.out and basic.err hold what PostgreSQL 15 prints.
CREATE TABLE accounts (
    id integer PRIMARY KEY,
    owner text NOT NULL,
    balance numeric(12,2) NOT NULL DEFAULT 0
);
INSERT INTO accounts VALUES (1, 'alice', 100.00), (2, 'bob', 50.5), (3, 'carol', 0);
INSERT INTO accounts (id, owner) VALUES (4, 'dave');
SELECT id, owner, balance FROM accounts ORDER BY id;
SELECT owner, balance FROM accounts ORDER BY balance DESC, owner LIMIT 2;
SELECT owner FROM accounts WHERE balance = 0 ORDER BY owner DESC;
UPDATE accounts SET balance = balance + 10 WHERE balance < 60;
UPDATE accounts SET balance = balance * 2 WHERE id = 3 RETURNING id, owner, balance;
DELETE FROM accounts WHERE owner = 'dave' RETURNING *;
SELECT count(*), sum(balance), min(balance), max(balance), round(avg(balance), 2) AS avg
FROM accounts;
SELECT balance > 50 AS rich, count(*) AS n FROM accounts GROUP BY balance > 50 ORDER BY rich;
BEGIN;
UPDATE accounts SET balance = balance - 25 WHERE id = 1;
UPDATE accounts SET balance = balance + 25 WHERE id = 2;
COMMIT;
BEGIN;
DELETE FROM accounts;
ROLLBACK;
SELECT id, owner, balance FROM accounts ORDER BY id;
SELECT sum(balance) AS total FROM accounts;
SELECT id, 100 / (id - 1) AS ratio FROM accounts ORDER BY id;
