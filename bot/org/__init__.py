"""The org directory (组织架构): 街道 → 社区 → 网格 → 小区, with the people and numbers of each.

A street-office clerk keeps it in one YAML file (see `org/sample_site.yml` and docs/org.md).
By job:

- `file`: reading and checking the file; an error, in Chinese for the clerk, names the entry
  and the field (`entries`: what a checked file holds).
- `importing`: writing it to the database in one transaction, all of it or nothing.
- `lookups`: what the rest of the bot asks: who is responsible for a compound, which compound a
  name or a group means, hotlines, office hours, buildings.
- `tree`: the directory printed for the clerk.

Callers use the package: `from bot import org`, then `org.find_compound(...)`.
"""
from bot.org.entries import HOTLINE_KINDS, PLATFORMS, OrgFileError, name_key
from bot.org.file import load_org_file, validate_org
from bot.org.importing import import_org, import_org_file, summary_text
from bot.org.lookups import (Person, branch_secretary, building_leader, chain_of, compound_for_group, compound_names,
                             find_compound, grid_worker, hotlines_for, office_hours_for)
from bot.org.tree import org_tree

__all__ = ["HOTLINE_KINDS", "PLATFORMS", "OrgFileError", "Person", "branch_secretary", "building_leader", "chain_of",
           "compound_for_group", "compound_names", "find_compound", "grid_worker", "hotlines_for", "import_org",
           "import_org_file", "load_org_file", "name_key", "office_hours_for", "org_tree", "summary_text",
           "validate_org"]
