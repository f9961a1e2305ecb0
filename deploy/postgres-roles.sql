-- Ronda's PostgreSQL roles and database, least privilege (docs/operations.md, "PostgreSQL").
-- Run once as a superuser: sudo -u postgres psql -v ON_ERROR_STOP=1 -f postgres-roles.sql
-- CHANGE the two passwords (or drop PASSWORD and use peer or certificate authentication).

-- Owns the tables: `ronda db upgrade`, `ronda restore` and `ronda new-epoch` run as it.
CREATE ROLE ronda_owner LOGIN PASSWORD 'change-me-owner';
-- The server and the everyday commands (init, station, officer, enroll, backup) run as it.
CREATE ROLE ronda_app LOGIN PASSWORD 'change-me-app';

CREATE DATABASE ronda OWNER ronda_owner;
REVOKE ALL ON DATABASE ronda FROM PUBLIC;
GRANT CONNECT ON DATABASE ronda TO ronda_app;

\connect ronda
-- Nobody but the owner creates anything (PostgreSQL 15 does this already; older ones do not).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ronda_app;
-- Every table and sequence the owner creates from now on (upgrades, restores) is usable by
-- the server: rows, and sequences too (a conflict or an audit row takes its id from one).
ALTER DEFAULT PRIVILEGES FOR ROLE ronda_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ronda_app;
ALTER DEFAULT PRIVILEGES FOR ROLE ronda_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO ronda_app;
-- And those that exist already (a database upgraded to this scheme).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ronda_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ronda_app;
