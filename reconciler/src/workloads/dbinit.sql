-- The Supabase roles, schemas, extensions and grants on an external PostgreSQL, after
-- upstream's supabase/postgres init scripts. Run by psql as a superuser, once per project.
--
-- Idempotent: every CREATE is guarded (IF NOT EXISTS, or a DO block that checks the
-- catalog first), GRANT and ALTER DEFAULT PRIVILEGES are no-ops when already in place, and
-- existing roles only get the project password set again. Nothing is dropped or replaced,
-- so data in an existing database is never touched. One transaction: all or nothing.
--
-- The project password is read from the environment (PGPASSWORD, from the Secret) into a
-- psql variable; it is never written in this file.
\set ON_ERROR_STOP on
\getenv project_password PGPASSWORD
\if :{?project_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'PGPASSWORD is not set'; END $$;
\endif

BEGIN;

-- Hand the password to the DO block below (psql does not interpolate inside $$ strings).
-- Transaction-local: gone at COMMIT.
SELECT set_config('supabase_operator.password', :'project_password', true) IS NOT NULL AS password_set;

DO $$
DECLARE
  pw text := current_setting('supabase_operator.password');
  r record;
BEGIN
  -- The API roles PostgREST switches to per request: no login, no password.
  FOR r IN SELECT * FROM (VALUES
      ('anon', 'NOLOGIN NOINHERIT'),
      ('authenticated', 'NOLOGIN NOINHERIT'),
      ('service_role', 'NOLOGIN NOINHERIT BYPASSRLS')) AS t(name, attrs)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
      EXECUTE format('CREATE ROLE %I %s', r.name, r.attrs);
    END IF;
  END LOOP;

  -- The roles the services log in as, all with the one project password.
  FOR r IN SELECT * FROM (VALUES
      ('authenticator', 'LOGIN NOINHERIT'),
      ('supabase_auth_admin', 'LOGIN NOINHERIT CREATEROLE'),
      ('supabase_storage_admin', 'LOGIN NOINHERIT CREATEROLE'),
      ('supabase_admin', 'LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS')) AS t(name, attrs)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
      EXECUTE format('CREATE ROLE %I %s PASSWORD %L', r.name, r.attrs, pw);
    ELSE
      EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', r.name, pw);
    END IF;
  END LOOP;
END
$$;

-- PostgREST logs in as authenticator and switches to the API roles.
GRANT anon, authenticated, service_role TO authenticator;
-- Storage's migrations create policies for the API roles.
GRANT anon, authenticated, service_role TO supabase_storage_admin;

-- Schemas: each service owns the one it migrates.
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_auth_admin;
CREATE SCHEMA IF NOT EXISTS storage AUTHORIZATION supabase_storage_admin;
CREATE SCHEMA IF NOT EXISTS realtime AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS _realtime AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS graphql_public;
-- A schema that already existed keeps its owner; make sure its service may use it.
GRANT ALL ON SCHEMA auth TO supabase_auth_admin;
GRANT ALL ON SCHEMA storage TO supabase_storage_admin;
GRANT ALL ON SCHEMA realtime, _realtime TO supabase_admin;

-- Extensions live in `extensions` (Storage's tables call extensions.uuid_generate_v4()).
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions;

-- What the API roles may reach.
GRANT USAGE ON SCHEMA public, extensions, storage, graphql_public, realtime TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA extensions TO authenticator, supabase_auth_admin, supabase_storage_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
-- Objects supabase_admin creates (through postgres-meta and Studio) are granted the same way.
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
-- Storage's own tables, created by its migrations.
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_storage_admin IN SCHEMA storage GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_storage_admin IN SCHEMA storage GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_storage_admin IN SCHEMA storage GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;

-- Each service finds its own schema first.
ALTER ROLE supabase_auth_admin SET search_path = auth;
ALTER ROLE supabase_storage_admin SET search_path = storage;
ALTER ROLE supabase_admin SET search_path = public, extensions;
-- Short timeouts for API requests, as upstream.
ALTER ROLE anon SET statement_timeout = '3s';
ALTER ROLE authenticated SET statement_timeout = '8s';

-- The publication Realtime streams database changes from.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime') THEN
    CREATE PUBLICATION supabase_realtime;
  END IF;
END
$$;

COMMIT;
