-- Swap a restored standby in for the live database, all or nothing (jobs/database/standby.py).
-- Run by `psql --file -` on the maintenance database with --set live=, standby= and kept=:
-- psql quotes the names itself (:"name" as an identifier, :'name' as a literal).
\set ON_ERROR_STOP 1
BEGIN;
-- The DO block below cannot see psql variables: hand it the names as transaction settings.
SELECT set_config('deployhook.live', :'live', true), set_config('deployhook.standby', :'standby', true);
-- What belongs to the database itself rather than to its contents stays as the live one had
-- it: settings (ALTER DATABASE ... SET), grants on the database, its comment and its
-- connection limit. A setting this role may not set is left out with a warning, not fatal.
DO $carry$
DECLARE
    live_name text := current_setting('deployhook.live');
    standby_name text := current_setting('deployhook.standby');
    live pg_catalog.pg_database%ROWTYPE;
    setting text;
    granted record;
    remark text;
BEGIN
    SELECT * INTO STRICT live FROM pg_catalog.pg_database WHERE datname = live_name;
    FOR setting IN
        SELECT unnest(s.setconfig) FROM pg_catalog.pg_db_role_setting s
        WHERE s.setdatabase = live.oid AND s.setrole = 0
    LOOP
        BEGIN
            -- SET ... FROM CURRENT stores the value exactly as the live database has it,
            -- lists such as search_path included, with no quoting rules of our own.
            PERFORM set_config(split_part(setting, '=', 1), substr(setting, strpos(setting, '=') + 1), true);
            EXECUTE format('ALTER DATABASE %I SET %I FROM CURRENT', standby_name, split_part(setting, '=', 1));
        EXCEPTION WHEN insufficient_privilege OR undefined_object OR invalid_parameter_value THEN
            RAISE WARNING 'database setting % not carried over to the restored database: %', setting, SQLERRM;
        END;
    END LOOP;
    IF live.datacl IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', standby_name);
        FOR granted IN
            SELECT a.privilege_type, a.grantee FROM aclexplode(live.datacl) a
            WHERE a.grantee <> live.datdba
        LOOP
            EXECUTE format('GRANT %s ON DATABASE %I TO %s', granted.privilege_type, standby_name,
                CASE WHEN granted.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(granted.grantee)) END);
        END LOOP;
    END IF;
    remark := pg_catalog.shobj_description(live.oid, 'pg_database');
    IF remark IS NOT NULL THEN
        EXECUTE format('COMMENT ON DATABASE %I IS %L', standby_name, remark);
    END IF;
    EXECUTE format('ALTER DATABASE %I CONNECTION LIMIT %s', standby_name, live.datconnlimit);
END
$carry$;
-- The renames need both databases free. The writers stopped already; other client sessions
-- this role may end (a console, a dashboard) are ended here. The rename itself stops
-- autovacuum workers (busy right after a large restore) and waits up to 5 s for everyone
-- else; a session this role may not end (a superuser's) makes it fail: rolled back, loud.
SELECT count(pg_catalog.pg_terminate_backend(pid)) AS ended_sessions FROM pg_catalog.pg_stat_activity
WHERE datname IN (:'live', :'standby') AND pid <> pg_catalog.pg_backend_pid()
  AND backend_type = 'client backend' AND pg_catalog.pg_has_role(usesysid, 'MEMBER');
ALTER DATABASE :"live" RENAME TO :"kept";
ALTER DATABASE :"standby" RENAME TO :"live";
COMMIT;
