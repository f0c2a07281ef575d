"""Credentials behaves as the frozen dataclass it was: the constructor, ==, hash, a repr without the secret,
FrozenInstanceError on assignment, and copies and pickles that compare equal."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from precheck.adapters.credentials import Credentials


def test_credentials_compare_hash_and_show_only_the_key_id():
    made = Credentials("AK", "SECRET", "TOKEN")
    assert made == Credentials(access_key_id="AK", access_key_secret="SECRET", security_token="TOKEN")
    assert hash(made) == hash(Credentials("AK", "SECRET", "TOKEN"))
    assert made != Credentials("AK", "SECRET") and Credentials("AK", "SECRET").security_token is None
    assert made != ("AK", "SECRET", "TOKEN")
    assert repr(made) == "Credentials(access_key_id='AK')" and "SECRET" not in repr(made) + str(made)
    assert pickle.loads(pickle.dumps(made)) == made and copy.deepcopy(made) == made


def test_credentials_refuse_changes():
    made = Credentials("AK", "SECRET")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.access_key_secret = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.access_key_id
    assert made.access_key_secret == "SECRET"
