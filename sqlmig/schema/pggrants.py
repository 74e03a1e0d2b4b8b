"""GRANT, REVOKE and ALTER DEFAULT PRIVILEGES read as text, without a server.

A scratch load needs to know, before it runs a file, which roles the file names (to
create the ones the scratch server lacks) and, when it may not create them, what the
statements that name them grant (to compare that as text). Only the forms privileges on
the compared kinds take are read; any other statement naming a role is reported as one,
so that nothing is skipped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import NamedTuple

_TOKENS = re.compile(
    r"(?P<skip>\s+|--[^\n]*|/\*.*?\*/)"
    r'|(?P<quoted>"(?:[^"]|"")*")'
    r"|(?P<string>[eE]?'(?:[^']|'')*'|\$(?P<tag>(?:[^\W\d]\w*)?)\$.*?\$(?P=tag)\$)"
    r"|(?P<word>[^\W\d][\w$]*)"
    r"|(?P<other>\S)",
    re.DOTALL,
)
# Words without which a statement names no role: most statements are skipped on them.
_MAY_NAME_ROLES = re.compile(r"GRANT|REVOKE|POLICY|OWNER|AUTHORIZATION|ROLE", re.IGNORECASE)
# Role specifications that are not names.
KEYWORD_ROLES = {"PUBLIC", "CURRENT_USER", "CURRENT_ROLE", "SESSION_USER"}
_OBJECT_KINDS = {
    "TABLE",
    "SEQUENCE",
    "FUNCTION",
    "PROCEDURE",
    "ROUTINE",
    "SCHEMA",
    "TYPE",
    "DOMAIN",
}
_OTHER_KINDS = {"DATABASE", "LANGUAGE", "LARGE", "TABLESPACE", "FOREIGN", "PARAMETER"}


class Token(NamedTuple):
    kind: str  # word, quoted, string or other
    text: str
    start: int
    end: int
    upper: str  # a word's text upper-cased, for keywords; "" for the other kinds

    @property
    def name(self) -> str:
        """As an identifier: unquoted folded to lower case, quoted as written."""
        if self.kind == "quoted":
            return self.text[1:-1].replace('""', '"')
        return self.text.lower()

    def is_word(self, *words: str) -> bool:
        return self.upper in words


def tokens(text: str) -> list[Token]:
    out = []
    for m in _TOKENS.finditer(text):
        kind = m.lastgroup or ""
        if kind != "skip":
            word = m.group()
            out.append(
                Token(kind, word, m.start(), m.end(), word.upper() if kind == "word" else "")
            )
    return out


class Role(NamedTuple):
    """One role of a list: a name, or a keyword (PUBLIC, CURRENT_USER...) upper-cased."""

    name: str
    keyword: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class RoleList:
    roles: list[Role]
    start: int  # the whole list's span in the statement, to rewrite it
    end: int


@dataclass(frozen=True, slots=True)
class Grant:
    """A GRANT or REVOKE of privileges on objects, or one of ALTER DEFAULT PRIVILEGES."""

    revoke: bool
    option_only: bool  # REVOKE GRANT OPTION FOR
    privileges: list[tuple[str, tuple[str, ...]]]  # ("SELECT", ("email",)), ("ALL", ())
    on: str | None  # TABLE, ALL TABLES, ... (defaults: TABLES, ...); None: a kind not compared
    objects: list[str]  # as written: names, routine signatures, or the schemas of ALL ...
    grantees: RoleList
    with_option: bool
    for_roles: RoleList | None = None  # ALTER DEFAULT PRIVILEGES FOR ROLE; None: the loader
    in_schemas: list[str] = field(default_factory=list)
    default: bool = False


@dataclass(frozen=True, slots=True)
class Other:
    """Any other statement that names roles: a role membership or a privilege statement
    not read here (``privileges``), or a policy, OWNER TO, AUTHORIZATION, SET ROLE."""

    roles: list[str]
    privileges: bool = False


def read(text: str) -> Grant | Other | None:
    """What one statement says about roles; None when it names none."""
    if _MAY_NAME_ROLES.search(text) is None:
        return None
    return _Reader(text).read()


def roles_of(statement: Grant | Other) -> list[str]:
    if isinstance(statement, Other):
        return statement.roles
    lists = [statement.grantees] + ([statement.for_roles] if statement.for_roles else [])
    return [r.name for roles in lists for r in roles.roles if not r.keyword]


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.t = tokens(text)

    def read(self) -> Grant | Other | None:
        t = self.t
        try:
            if t and t[0].is_word("GRANT", "REVOKE"):
                return self.grant(0, default=False) or self.membership()
            if len(t) > 2 and t[0].is_word("ALTER") and t[1].is_word("DEFAULT"):
                return self.default_privileges()
        except (IndexError, ValueError):
            # Not a form read here: the names after its last TO or FROM are still roles.
            if t[0].is_word("GRANT", "REVOKE", "ALTER"):
                last = max(k for k, tok in enumerate(t) if tok.is_word("TO", "FROM"))
                return Other([tok.name for tok in t[last + 1 :] if _is_name(tok)], True)
        named = self.named_roles()
        return Other(named) if named else None

    def at_depth0(self, start: int, *words: str) -> int:
        """Index of the first of ``words`` outside parentheses from ``start``, or the end."""
        depth = 0
        for i in range(start, len(self.t)):
            tok = self.t[i]
            depth += (tok.text == "(") - (tok.text == ")")
            if depth == 0 and tok.is_word(*words):
                return i
        return len(self.t)

    def items(self, start: int, end: int) -> list[list[Token]]:
        """Tokens ``start:end`` split at the commas outside parentheses."""
        out: list[list[Token]] = [[]]
        depth = 0
        for tok in self.t[start:end]:
            depth += (tok.text == "(") - (tok.text == ")")
            if tok.text == "," and depth == 0:
                out.append([])
            else:
                out[-1].append(tok)
        return [item for item in out if item]

    def source(self, item: list[Token]) -> str:
        return self.text[item[0].start : item[-1].end]

    def role_list(self, start: int, end: int) -> RoleList:
        roles = []
        for item in self.items(start, end):
            *group, tok = item
            if [g.text.upper() for g in group] not in ([], ["GROUP"]) or tok.kind == "other":
                raise ValueError("not a role")
            keyword = tok.kind == "word" and tok.text.upper() in KEYWORD_ROLES
            roles.append(
                Role(tok.text.upper() if keyword else tok.name, keyword, tok.start, tok.end)
            )
        if not roles:
            raise ValueError("no roles")
        return RoleList(roles, self.t[start].start, self.t[end - 1].end)

    def grant(self, at: int, *, default: bool) -> Grant | None:
        t = self.t
        revoke = t[at].is_word("REVOKE")
        i = at + 1
        option_only = revoke and t[i].is_word("GRANT") and t[i + 1].is_word("OPTION")
        i += 3 if option_only else 0
        on = self.at_depth0(i, "ON")
        to = self.at_depth0(i, "FROM" if revoke else "TO")
        if on >= to:
            return None  # no ON: role membership
        end = self.at_depth0(to + 1, "WITH", "GRANTED", "CASCADE", "RESTRICT")
        kind, objects = self.target(on + 1, to, default=default)
        return Grant(
            revoke=revoke,
            option_only=option_only,
            privileges=[_privilege(item) for item in self.items(i, on)],
            on=kind,
            objects=objects,
            grantees=self.role_list(to + 1, end),
            with_option=end + 2 < len(t) and t[end].is_word("WITH") and t[end + 1].is_word("GRANT"),
            default=default,
        )

    def target(self, start: int, end: int, *, default: bool) -> tuple[str | None, list[str]]:
        t = self.t
        if default:  # ON TABLES, ON LARGE OBJECTS
            return " ".join(tok.text.upper() for tok in t[start:end]), []
        if t[start].is_word("ALL") and t[start + 2].is_word("IN"):
            schemas = [item[0].name for item in self.items(start + 4, end)]
            return f"ALL {t[start + 1].text.upper()}", schemas
        if t[start].is_word(*_OTHER_KINDS):
            return None, []
        kind = t[start].text.upper() if t[start].is_word(*_OBJECT_KINDS) else "TABLE"
        first = start + 1 if t[start].is_word(*_OBJECT_KINDS) else start
        return kind, [self.source(item) for item in self.items(first, end)]

    def membership(self) -> Other:
        t = self.t
        i = 4 if t[0].is_word("REVOKE") and t[2].is_word("OPTION") else 1
        to = self.at_depth0(i, "FROM" if t[0].is_word("REVOKE") else "TO")
        end = self.at_depth0(to + 1, "WITH", "GRANTED", "CASCADE", "RESTRICT")
        granted = self.role_list(i, to).roles + self.role_list(to + 1, end).roles
        return Other([r.name for r in granted if not r.keyword], True)

    def default_privileges(self) -> Grant:
        t = self.t
        i, for_roles, schemas = 3, None, []
        while not t[i].is_word("GRANT", "REVOKE"):
            stop = self.at_depth0(i + 2, "IN", "FOR", "GRANT", "REVOKE")
            if t[i].is_word("FOR"):
                for_roles = self.role_list(i + 2, stop)
            else:
                schemas = [item[0].name for item in self.items(i + 2, stop)]
            i = stop
        grant = self.grant(i, default=True)
        if grant is None:
            raise ValueError("no ON")
        return replace(grant, for_roles=for_roles, in_schemas=schemas)

    def named_roles(self) -> list[str]:
        """Roles other statements name: a policy's TO list, OWNER TO, AUTHORIZATION, SET ROLE."""
        t = self.t
        found = []
        for k in range(1, len(t) - 1):
            before, tok, after = t[k - 1], t[k], t[k + 1]
            if not _is_name(after) or after.is_word("NONE"):
                continue
            if (
                (tok.is_word("TO") and before.is_word("OWNER"))
                or (tok.is_word("ROLE") and before.is_word("SET"))
                or tok.is_word("AUTHORIZATION")
            ):
                found.append(after.name)
        if len(t) > 1 and t[0].is_word("CREATE", "ALTER") and t[1].is_word("POLICY"):
            to = self.at_depth0(2, "TO")
            if to < len(t) and not t[to - 1].is_word("RENAME"):
                end = self.at_depth0(to + 1, "USING", "WITH")
                found += [r.name for r in self.role_list(to + 1, end).roles if not r.keyword]
        return found


def _is_name(tok: Token) -> bool:
    return tok.kind == "quoted" or (tok.kind == "word" and tok.text.upper() not in KEYWORD_ROLES)


def _privilege(item: list[Token]) -> tuple[str, tuple[str, ...]]:
    paren = next((k for k, tok in enumerate(item) if tok.text == "("), len(item))
    words = " ".join(tok.text.upper() for tok in item[:paren])
    inner = item[paren + 1 : -1]
    columns = tuple(tok.name for tok in inner if tok.text != ",")
    return ("ALL" if words in ("ALL", "ALL PRIVILEGES") else words), columns
