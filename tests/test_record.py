"""What a dependency image records of itself, and what changed between two records (no uv, no registry)."""

from __future__ import annotations

from depimage.fingerprint.record import Record, changes_from_dict, compare, record_from_labels

OLD = Record({"numpy": ("2.1.0", "https://pypi.org/simple", "aaa"), "six": ("1.16.0", "https://pypi.org/simple", "bbb"),
              "idna": ("3.9", "https://pypi.org/simple", "ccc")},
             {"format": 1, "options": {"no_dev": False, "base_image": "python:3.12-slim"}, "base-digest": "sha256:1"})


def test_labels_read_back_as_they_were_written():
    assert record_from_labels(OLD.labels()) == OLD
    assert record_from_labels({}) is None and record_from_labels({**OLD.labels(), "dev.depimage.installed": "{"}) is None


def test_nothing_changed_is_no_change():
    assert not compare(OLD, OLD) and compare(OLD, OLD).lines() == []


def test_every_kind_of_change_is_named():
    new = Record({"numpy": ("2.1.1", "https://pypi.org/simple", "ddd"), "six": ("1.16.0", "https://pypi.org/simple", "eee"),
                  "pyyaml": ("6.0", "https://pypi.org/simple", "fff")},
                 {"format": 1, "options": {"no_dev": True, "base_image": "python:3.12-slim"}, "base-digest": "sha256:2"})
    changes = compare(OLD, new)
    assert changes.lines() == ["+ pyyaml 6.0", "- idna 3.9", "~ numpy 2.1.0 -> 2.1.1",
                               "~ six 1.16.0 (same version, other files)", "option no_dev: false -> true",
                               "base image sha256:1 -> sha256:2"]
    assert changes_from_dict(changes.as_dict()) == changes
    table = changes.table()
    assert "| changed | numpy | 2.1.0 | 2.1.1 |" in table and "| added | pyyaml |  | 6.0 |" in table


def test_a_base_digest_not_read_this_time_is_no_change():
    new = Record(OLD.packages, {k: v for k, v in OLD.inputs.items() if k != "base-digest"})
    assert not compare(OLD, new)
