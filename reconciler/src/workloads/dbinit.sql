-- The Supabase roles, schemas, extensions and grants on an external PostgreSQL, after
-- upstream's supabase/postgres init scripts. Run by psql once per project, as a superuser
-- or, on a managed server (RDS, Cloud SQL, ...), as an administrator without SUPERUSER.
--
-- Idempotent: every CREATE is guarded (IF NOT EXISTS, or a DO block that checks the
-- catalog first), GRANT and ALTER DEFAULT PRIVILEGES are no-ops when already in place, and
-- existing roles only get the project password set again. Nothing is dropped or replaced,
-- so data in an existing database is never touched. One transaction: all or nothing.
--
-- Without superuser, what needs it (SUPERUSER, REPLICATION and BYPASSRLS role attributes,
-- untrusted extensions, default privileges of a role we are not a member of) is skipped
-- with a NOTICE naming it, in a sub-block whose failure undoes only that statement; the
-- database preflight (preflight.sql) then reports what is still missing.
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
  super boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
  can_create boolean := (SELECT rolsuper OR rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user);
  attrs text;
  r record;
BEGIN
  -- The API roles PostgREST switches to per request (no login, no password), then the
  -- roles the services log in as, all with the one project password. `super` holds the
  -- attributes only a superuser may grant (PostgreSQL 15: SUPERUSER, REPLICATION, BYPASSRLS).
  FOR r IN SELECT * FROM (VALUES
      ('anon', 'NOLOGIN NOINHERIT', '', false),
      ('authenticated', 'NOLOGIN NOINHERIT', '', false),
      ('service_role', 'NOLOGIN NOINHERIT', 'BYPASSRLS', false),
      ('authenticator', 'LOGIN NOINHERIT', '', true),
      ('supabase_auth_admin', 'LOGIN NOINHERIT CREATEROLE', '', true),
      ('supabase_storage_admin', 'LOGIN NOINHERIT CREATEROLE', '', true),
      ('supabase_admin', 'LOGIN CREATEDB CREATEROLE', 'SUPERUSER REPLICATION BYPASSRLS', true))
      AS t(name, attrs, super_attrs, login)
  LOOP
    attrs := r.attrs;
    IF super THEN
      attrs := attrs || ' ' || r.super_attrs;
    ELSIF r.super_attrs <> '' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
      RAISE NOTICE 'supabase-operator: not a superuser: role % is created without %', r.name, r.super_attrs;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
      IF NOT can_create THEN
        RAISE NOTICE 'supabase-operator: cannot create role % (% has neither SUPERUSER nor CREATEROLE)', r.name, current_user;
        CONTINUE;
      END IF;
      IF r.login THEN
        EXECUTE format('CREATE ROLE %I %s PASSWORD %L', r.name, attrs, pw);
      ELSE
        EXECUTE format('CREATE ROLE %I %s', r.name, attrs);
      END IF;
    ELSIF r.login THEN
      BEGIN
        EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', r.name, pw);
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'supabase-operator: cannot set the password of role % (not permitted)', r.name;
      END;
    END IF;
  END LOOP;

  -- Without superuser, CREATE SCHEMA ... AUTHORIZATION and ALTER DEFAULT PRIVILEGES FOR
  -- ROLE need membership in the role: take it, as managed servers' guides do.
  IF NOT super THEN
    FOR r IN SELECT rolname FROM pg_catalog.pg_roles
             WHERE rolname IN ('supabase_auth_admin', 'supabase_storage_admin', 'supabase_admin')
               AND NOT pg_catalog.pg_has_role(current_user, oid, 'MEMBER')
    LOOP
      BEGIN
        EXECUTE format('GRANT %I TO %I', r.rolname, current_user);
        RAISE NOTICE 'supabase-operator: not a superuser: granted % to % to create what it owns', r.rolname, current_user;
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'supabase-operator: cannot grant % to %', r.rolname, current_user;
      END;
    END LOOP;
  END IF;
END
$$;

-- Runs one statement; without the privilege or the extension it becomes a NOTICE.
CREATE PROCEDURE pg_temp.try(stmt text) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
EXCEPTION
  WHEN insufficient_privilege OR undefined_object OR invalid_schema_name OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'supabase-operator: skipped (%): %', SQLERRM, stmt;
END
$$;

-- PostgREST logs in as authenticator and switches to the API roles.
CALL pg_temp.try('GRANT anon, authenticated, service_role TO authenticator');
-- Storage's migrations create policies for the API roles.
CALL pg_temp.try('GRANT anon, authenticated, service_role TO supabase_storage_admin');

-- Schemas: each service owns the one it migrates.
CREATE SCHEMA IF NOT EXISTS extensions;
CALL pg_temp.try('CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_auth_admin');
CALL pg_temp.try('CREATE SCHEMA IF NOT EXISTS storage AUTHORIZATION supabase_storage_admin');
CALL pg_temp.try('CREATE SCHEMA IF NOT EXISTS realtime AUTHORIZATION supabase_admin');
CALL pg_temp.try('CREATE SCHEMA IF NOT EXISTS _realtime AUTHORIZATION supabase_admin');
CREATE SCHEMA IF NOT EXISTS graphql_public;
-- A schema that already existed keeps its owner; make sure its service may use it.
CALL pg_temp.try('GRANT ALL ON SCHEMA auth TO supabase_auth_admin');
CALL pg_temp.try('GRANT ALL ON SCHEMA storage TO supabase_storage_admin');
CALL pg_temp.try('GRANT ALL ON SCHEMA realtime, _realtime TO supabase_admin');

-- Extensions live in `extensions` (Storage's tables call extensions.uuid_generate_v4()).
-- uuid-ossp and pgcrypto are trusted: a role with CREATE on the database may add them.
CALL pg_temp.try('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions');
CALL pg_temp.try('CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions');
CALL pg_temp.try('CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions');

-- What the API roles may reach.
CALL pg_temp.try('GRANT USAGE ON SCHEMA public, extensions, storage, graphql_public, realtime TO anon, authenticated, service_role');
CALL pg_temp.try('GRANT USAGE ON SCHEMA extensions TO authenticator, supabase_auth_admin, supabase_storage_admin');
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role');
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role');
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role');
-- Objects supabase_admin creates (through postgres-meta and Studio) are granted the same way.
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role');
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role');
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role');
-- Storage's own tables, created by its migrations.
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES FOR ROLE supabase_storage_admin IN SCHEMA storage GRANT ALL ON TABLES TO anon, authenticated, service_role');
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES FOR ROLE supabase_storage_admin IN SCHEMA storage GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role');
CALL pg_temp.try('ALTER DEFAULT PRIVILEGES FOR ROLE supabase_storage_admin IN SCHEMA storage GRANT ALL ON SEQUENCES TO anon, authenticated, service_role');

-- Each service finds its own schema first.
CALL pg_temp.try('ALTER ROLE supabase_auth_admin SET search_path = auth');
CALL pg_temp.try('ALTER ROLE supabase_storage_admin SET search_path = storage');
CALL pg_temp.try('ALTER ROLE supabase_admin SET search_path = public, extensions');
-- Short timeouts for API requests, as upstream.
CALL pg_temp.try('ALTER ROLE anon SET statement_timeout = ''3s''');
CALL pg_temp.try('ALTER ROLE authenticated SET statement_timeout = ''8s''');

-- The publication Realtime streams database changes from.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime') THEN
    CALL pg_temp.try('CREATE PUBLICATION supabase_realtime');
  END IF;
END
$$;

COMMIT;
