"""The catalog queries of a PostgreSQL restore (engines/pgrestore.py uses them).

They are run twice: once by sqlmig before anything changes, to refuse early and to say
what will be left alone, and again inside the restore's own transaction, where they
decide. Parameters are named (%(replace)s: the schemas whose content the restore
replaces; %(dropped)s: the schemas it drops, created after the backup), so one text
serves both: sqlmig binds them client-side into the script psql runs.
"""

from __future__ import annotations

# Every object a schema can hold, with the DROP that removes it: ``kind`` and ``ident``
# (search_path is pg_catalog while these run, so every name comes out qualified).
# Text search parsers and templates have no owner: only a superuser may drop them.
OBJECTS = """
SELECT 'pg_class'::regclass AS classid, c.oid AS objid, c.relnamespace AS nsp,
       c.relowner AS owner,
       CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END
         AS kind,
       c.oid::regclass::text AS ident
  FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'pg_proc'::regclass, oid, pronamespace, proowner, 'ROUTINE', oid::regprocedure::text
  FROM pg_proc
UNION ALL
SELECT 'pg_type'::regclass, oid, typnamespace, typowner,
       CASE typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, oid::regtype::text
  FROM pg_type WHERE typtype IN ('b', 'c', 'd', 'e', 'r')
UNION ALL
SELECT 'pg_collation'::regclass, oid, collnamespace, collowner, 'COLLATION',
       format('%%s.%%I', collnamespace::regnamespace, collname) FROM pg_collation
UNION ALL
SELECT 'pg_conversion'::regclass, oid, connamespace, conowner, 'CONVERSION',
       format('%%s.%%I', connamespace::regnamespace, conname) FROM pg_conversion
UNION ALL
SELECT 'pg_operator'::regclass, oid, oprnamespace, oprowner, 'OPERATOR', oid::regoperator::text
  FROM pg_operator
UNION ALL
SELECT 'pg_opfamily'::regclass, f.oid, f.opfnamespace, f.opfowner, 'OPERATOR FAMILY',
       format('%%s.%%I USING %%I', f.opfnamespace::regnamespace, f.opfname, a.amname)
  FROM pg_opfamily f JOIN pg_am a ON a.oid = f.opfmethod
UNION ALL
SELECT 'pg_opclass'::regclass, c.oid, c.opcnamespace, c.opcowner, 'OPERATOR CLASS',
       format('%%s.%%I USING %%I', c.opcnamespace::regnamespace, c.opcname, a.amname)
  FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
UNION ALL
SELECT 'pg_ts_config'::regclass, oid, cfgnamespace, cfgowner, 'TEXT SEARCH CONFIGURATION',
       oid::regconfig::text FROM pg_ts_config
UNION ALL
SELECT 'pg_ts_dict'::regclass, oid, dictnamespace, dictowner, 'TEXT SEARCH DICTIONARY',
       oid::regdictionary::text FROM pg_ts_dict
UNION ALL
SELECT 'pg_ts_parser'::regclass, oid, prsnamespace, 10, 'TEXT SEARCH PARSER',
       format('%%s.%%I', prsnamespace::regnamespace, prsname) FROM pg_ts_parser
UNION ALL
SELECT 'pg_ts_template'::regclass, oid, tmplnamespace, 10, 'TEXT SEARCH TEMPLATE',
       format('%%s.%%I', tmplnamespace::regnamespace, tmplname) FROM pg_ts_template
UNION ALL
SELECT 'pg_statistic_ext'::regclass, oid, stxnamespace, stxowner, 'STATISTICS',
       format('%%s.%%I', stxnamespace::regnamespace, stxname) FROM pg_statistic_ext
"""

# Extension members and the internal parts of other objects go with what they belong to.
_STANDALONE = """NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = o.classid
                   AND d.objid = o.objid AND d.deptype IN ('e', 'i'))"""

# What the restore drops: the role's own objects (it has their owner's privileges) in
# the schemas it replaces, and the schemas created after the backup, whole.
TARGETS = f"""
SELECT o.classid, o.objid, format('DROP %%s IF EXISTS %%s CASCADE', o.kind, o.ident) AS statement
  FROM ({OBJECTS}) o JOIN pg_namespace n ON n.oid = o.nsp
 WHERE ((n.nspname = ANY (%(replace)s::text[]) AND pg_has_role(o.owner, 'USAGE'))
        OR n.nspname = ANY (%(dropped)s::text[]))
   AND {_STANDALONE}
UNION ALL
SELECT 'pg_namespace'::regclass, oid, format('DROP SCHEMA IF EXISTS %%I CASCADE', nspname)
  FROM pg_namespace WHERE nspname = ANY (%(dropped)s::text[])
"""

# What else dropping the targets would take with it, outside them: the objects that
# depend on them, directly or not, and belong to something that is not a target. Of
# those, triggers, foreign keys, policies, column defaults and publication memberships
# are re-created after the restore ("recreate") when the role may create them again
# (TRIGGER on the table; for the others, its owner's privileges); the rest are refused
# (NULL).
# Internal triggers of a foreign key, and the internal parts of an object already
# listed (a view's rule), are not listed apart.
OUTSIDE = """
WITH RECURSIVE doomed(classid, objid, objsubid) AS (
  SELECT classid, objid, 0 FROM pg_temp.sqlmig_restore_targets
  UNION
  SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d JOIN doomed x ON d.refclassid = x.classid AND d.refobjid = x.objid
         AND (x.objsubid = 0 OR d.refobjsubid = x.objsubid)
   WHERE d.deptype IN ('n', 'a', 'i', 'P', 'S')
), up(classid, objid, objsubid, root_class, root_oid) AS (
  SELECT x.classid, x.objid, x.objsubid, x.classid, x.objid FROM doomed x
  UNION
  SELECT x.classid, x.objid, x.objsubid,
         CASE WHEN c.contypid <> 0 THEN 'pg_type'::regclass::oid
              WHEN pr.oid IS NOT NULL THEN 'pg_publication'::regclass::oid
              ELSE 'pg_class'::regclass::oid END,
         coalesce(t.tgrelid, p.polrelid, a.adrelid, r.ev_class, nullif(c.conrelid, 0),
                  nullif(c.contypid, 0), i.indrelid, pr.prpubid)
    FROM doomed x
    LEFT JOIN pg_trigger t ON x.classid = 'pg_trigger'::regclass AND t.oid = x.objid
    LEFT JOIN pg_policy p ON x.classid = 'pg_policy'::regclass AND p.oid = x.objid
    LEFT JOIN pg_attrdef a ON x.classid = 'pg_attrdef'::regclass AND a.oid = x.objid
    LEFT JOIN pg_rewrite r ON x.classid = 'pg_rewrite'::regclass AND r.oid = x.objid
    LEFT JOIN pg_constraint c ON x.classid = 'pg_constraint'::regclass AND c.oid = x.objid
    LEFT JOIN pg_index i ON x.classid = 'pg_class'::regclass AND i.indexrelid = x.objid
    LEFT JOIN pg_publication_rel pr
           ON x.classid = 'pg_publication_rel'::regclass AND pr.oid = x.objid
   WHERE coalesce(t.tgrelid, p.polrelid, a.adrelid, r.ev_class, nullif(c.conrelid, 0),
                  nullif(c.contypid, 0), i.indrelid, pr.prpubid) IS NOT NULL
  UNION
  SELECT u.classid, u.objid, u.objsubid, d.refclassid, d.refobjid
    FROM up u JOIN pg_depend d ON d.classid = u.root_class AND d.objid = u.root_oid
   WHERE d.deptype = 'i'
), outside AS (
  SELECT DISTINCT x.classid, x.objid, x.objsubid FROM doomed x
   WHERE NOT EXISTS (SELECT FROM up u JOIN pg_temp.sqlmig_restore_targets g
                       ON g.classid = u.root_class AND g.objid = u.root_oid
                      WHERE u.classid = x.classid AND u.objid = x.objid)
)
SELECT CASE WHEN o.classid = 'pg_rewrite'::regclass
            THEN (SELECT pg_describe_object('pg_class'::regclass, ev_class, 0)
                    FROM pg_rewrite WHERE oid = o.objid)
            ELSE pg_describe_object(o.classid, o.objid, o.objsubid) END AS description,
       (SELECT min(pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid))
          FROM pg_depend d JOIN doomed x ON d.refclassid = x.classid AND d.refobjid = x.objid
         WHERE d.classid = o.classid AND d.objid = o.objid
           AND NOT EXISTS (SELECT FROM outside y WHERE y.classid = x.classid
                           AND y.objid = x.objid)) AS depends_on,
       CASE o.classid
         WHEN 'pg_trigger'::regclass THEN
           (SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
             WHERE t.oid = o.objid AND has_table_privilege(t.tgrelid, 'TRIGGER'))
         WHEN 'pg_constraint'::regclass THEN
           (SELECT format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass,
                          c.conname, pg_get_constraintdef(c.oid))
              FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
             WHERE c.oid = o.objid AND c.contype = 'f' AND pg_has_role(r.relowner, 'USAGE'))
         WHEN 'pg_policy'::regclass THEN
           (SELECT format('CREATE POLICY %%I ON %%s AS %%s FOR %%s TO %%s%%s%%s', p.polname,
                          p.polrelid::regclass,
                          CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                          CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                               WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                          (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC'
                                             ELSE quote_ident(pg_get_userbyid(r)) END, ', ')
                             FROM unnest(p.polroles) r),
                          ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
                          ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')
              FROM pg_policy p JOIN pg_class r ON r.oid = p.polrelid
             WHERE p.oid = o.objid AND pg_has_role(r.relowner, 'USAGE'))
         WHEN 'pg_attrdef'::regclass THEN
           (SELECT format('ALTER TABLE %%s ALTER COLUMN %%I SET DEFAULT %%s',
                          a.adrelid::regclass, att.attname, pg_get_expr(a.adbin, a.adrelid))
              FROM pg_attrdef a JOIN pg_attribute att
                   ON att.attrelid = a.adrelid AND att.attnum = a.adnum
                   JOIN pg_class r ON r.oid = a.adrelid
             WHERE a.oid = o.objid AND att.attgenerated = '' AND pg_has_role(r.relowner, 'USAGE'))
         WHEN 'pg_publication_rel'::regclass THEN
           (SELECT format('ALTER PUBLICATION %%I ADD TABLE ONLY %%s%%s', pub.pubname,
                          pr.prrelid::regclass,
                          ' WHERE (' || pg_get_expr(pr.prqual, pr.prrelid) || ')')
              FROM pg_publication_rel pr JOIN pg_publication pub ON pub.oid = pr.prpubid
             WHERE pr.oid = o.objid AND pg_has_role(pub.pubowner, 'USAGE'))
       END AS recreate,
       -- Foreign keys last: they check their rows against the restored tables.
       CASE o.classid WHEN 'pg_constraint'::regclass THEN 2 ELSE 1 END AS ord
  FROM outside o
 WHERE NOT (o.classid = 'pg_trigger'::regclass
            AND (SELECT tgisinternal FROM pg_trigger WHERE oid = o.objid))
   AND NOT EXISTS (SELECT FROM pg_depend d JOIN outside y
                     ON d.refclassid = y.classid AND d.refobjid = y.objid
                    WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'i')
"""

# The objects in the schemas the restore replaces that it leaves alone: other roles'
# (it cannot drop them, and does not restore theirs from the backup either), and the
# members of extensions (they belong to the extension, not to the schema).
LEFT_ALONE = f"""
SELECT CASE WHEN {_STANDALONE} THEN pg_describe_object(o.classid, o.objid, 0)
            || ' (owner ' || pg_get_userbyid(o.owner) || ')'
            ELSE (SELECT 'the objects of ' || pg_describe_object(d.refclassid, d.refobjid, 0)
                    FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid
                     AND d.deptype = 'e' LIMIT 1) END AS what
  FROM ({OBJECTS}) o JOIN pg_namespace n ON n.oid = o.nsp
 WHERE n.nspname = ANY (%(replace)s::text[])
   AND (NOT pg_has_role(o.owner, 'USAGE')
        OR EXISTS (SELECT FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid
                   AND d.deptype = 'e'))
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = o.classid
                   AND d.objid = o.objid AND d.deptype = 'i')
"""

# The schemas of the database: their owner, whether sqlmig manages them by default (its
# own schema, and those the connecting role owns, or owns as the database's owner),
# whether the role has their owner's privileges, and which is sqlmig's own.
SCHEMAS = """
SELECT n.nspname, pg_get_userbyid(n.nspowner),
       n.nspname = %(home)s OR n.nspowner = current_user::regrole
       OR (n.nspowner = to_regrole('pg_database_owner')
           AND (SELECT datdba FROM pg_database WHERE datname = current_database())
               = current_user::regrole),
       pg_has_role(n.nspowner, 'USAGE'), n.nspname = %(home)s
  FROM pg_namespace n
 WHERE n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
 ORDER BY 1
"""

# Every role, with whether the connecting role may act as it: drop its objects, and set
# it as an owner (%(set)s: PostgreSQL 16 made SET a grant of its own, apart from MEMBER).
ROLES = """
SELECT rolname, pg_has_role(oid, 'USAGE') AND pg_has_role(oid, %(set)s) FROM pg_roles
"""

# The relations in the schemas a backup holds that the role may not read (other roles'
# tables): pg_dump would fail on them, and a restore leaves them alone anyway. Quoted
# whole, as pg_dump's --exclude-table patterns match quoted names literally.
UNREADABLE = """
SELECT format('"%%s"."%%s"', replace(n.nspname, '"', '""'), replace(c.relname, '"', '""'))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY (%(schemas)s::text[]) AND c.relkind IN ('r', 'p', 'm', 'S', 'f')
   AND NOT has_table_privilege(c.oid, 'SELECT')
"""
