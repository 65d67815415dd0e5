-- The database preflight: what the components need of the server, as one line of JSON
-- (facts only; the reconciler turns them into findings, preflight.rs). Read-only: only
-- SELECT, and the Job runs it with default_transaction_read_only=on. Kept small: the Job
-- hands the line to the reconciler as its termination message (4096 bytes at most).
\set ON_ERROR_STOP on
SELECT json_build_object(
  'version', current_setting('server_version'),
  'versionNum', current_setting('server_version_num')::int,
  'walLevel', current_setting('wal_level'),
  'slotsMax', current_setting('max_replication_slots')::int,
  'slotsUsed', (SELECT count(*) FROM pg_catalog.pg_replication_slots),
  'user', current_user,
  'superuser', (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
  'createRole', (SELECT rolsuper OR rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user),
  'createInDatabase', has_database_privilege(current_database(), 'CREATE'),
  -- Of the extensions Supabase uses: 'installed' or 'available'; absent when neither.
  'extensions', (SELECT coalesce(json_object_agg(name, CASE WHEN installed_version IS NULL THEN 'available' ELSE 'installed' END), '{}')
                 FROM pg_catalog.pg_available_extensions
                 WHERE name IN ('pg_graphql', 'pgcrypto', 'uuid-ossp', 'pg_net', 'pgsodium', 'supabase_vault', 'pg_cron')),
  -- The roles db-init creates: can they log in, and what are they members of.
  'roles', (SELECT coalesce(json_object_agg(r.rolname, json_build_object(
                'login', r.rolcanlogin,
                'memberOf', (SELECT coalesce(json_agg(g.rolname ORDER BY g.rolname), '[]')
                             FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                             WHERE m.member = r.oid))), '{}')
            FROM pg_catalog.pg_roles r
            WHERE r.rolname IN ('anon', 'authenticated', 'service_role', 'authenticator', 'supabase_auth_admin',
                                'supabase_storage_admin', 'supabase_admin'))
) AS preflight;
