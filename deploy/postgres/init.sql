-- Provisions Innopark's database: one database `innopark`, and per service one role
-- `innopark_<service>` owning one schema `<service>` and nothing else (DESIGN.md §2 rule 5).
-- The same steps as shared/src/innopark_shared/devrun/provision.py, for servers the dev runner
-- does not manage. Idempotent: safe to run again (it then resets the roles' passwords).
--
-- Run as a PostgreSQL superuser with psql >= 15; the passwords come from the environment and
-- the script stops if one is missing:
--   INNOPARK_REGISTRY_DB_PASSWORD=... INNOPARK_ORDERS_DB_PASSWORD=... \
--   INNOPARK_ACCREDITATION_DB_PASSWORD=... INNOPARK_EVENTS_DB_PASSWORD=... \
--   INNOPARK_GATEWAY_DB_PASSWORD=... \
--   psql -v ON_ERROR_STOP=1 "postgresql://postgres@db-host/postgres" -f deploy/postgres/init.sql
-- docker-compose.yml mounts it into the postgres image's /docker-entrypoint-initdb.d, which
-- runs it once, when the data volume is first initialised.

\set ON_ERROR_STOP on

\getenv registry_password INNOPARK_REGISTRY_DB_PASSWORD
\getenv orders_password INNOPARK_ORDERS_DB_PASSWORD
\getenv accreditation_password INNOPARK_ACCREDITATION_DB_PASSWORD
\getenv events_password INNOPARK_EVENTS_DB_PASSWORD
\getenv gateway_password INNOPARK_GATEWAY_DB_PASSWORD

-- psql would leave an unset variable uninterpolated; fail with a clear message instead.
\if :{?registry_password}
\else
    DO $$BEGIN RAISE EXCEPTION 'INNOPARK_REGISTRY_DB_PASSWORD is not set'; END$$;
\endif
\if :{?orders_password}
\else
    DO $$BEGIN RAISE EXCEPTION 'INNOPARK_ORDERS_DB_PASSWORD is not set'; END$$;
\endif
\if :{?accreditation_password}
\else
    DO $$BEGIN RAISE EXCEPTION 'INNOPARK_ACCREDITATION_DB_PASSWORD is not set'; END$$;
\endif
\if :{?events_password}
\else
    DO $$BEGIN RAISE EXCEPTION 'INNOPARK_EVENTS_DB_PASSWORD is not set'; END$$;
\endif
\if :{?gateway_password}
\else
    DO $$BEGIN RAISE EXCEPTION 'INNOPARK_GATEWAY_DB_PASSWORD is not set'; END$$;
\endif

SELECT 'CREATE DATABASE innopark'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'innopark') \gexec

\connect innopark

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- One row per service; the statements below are generated from it so every service gets
-- exactly the same treatment.
CREATE TEMPORARY TABLE innopark_services (service text PRIMARY KEY, password text NOT NULL);
INSERT INTO innopark_services VALUES
    ('registry', :'registry_password'),
    ('orders', :'orders_password'),
    ('accreditation', :'accreditation_password'),
    ('events', :'events_password'),
    ('gateway', :'gateway_password');

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM innopark_services WHERE password = '') THEN
        RAISE EXCEPTION 'empty database password for: %',
            (SELECT string_agg(service, ', ') FROM innopark_services WHERE password = '');
    END IF;
END$$;

SELECT format(
           '%s ROLE %I LOGIN PASSWORD %L',
           CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'innopark_' || service)
                THEN 'ALTER' ELSE 'CREATE' END,
           'innopark_' || service,
           password)
FROM innopark_services ORDER BY service \gexec

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', service, 'innopark_' || service)
FROM innopark_services ORDER BY service \gexec

SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', service)
FROM innopark_services ORDER BY service \gexec

SELECT format('ALTER ROLE %I SET search_path = %I', 'innopark_' || service, service)
FROM innopark_services ORDER BY service \gexec

DROP TABLE innopark_services;
