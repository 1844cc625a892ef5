import re

import pytest

from shapepipe.errors import ConfigError
from shapepipe.pipeline.numbering import file_name_regex, natural_key, scheme_to_regex


@pytest.mark.parametrize('scheme, regex', [
    ('_0', r'\_\d+'),
    ('-000-000', r'\-\d{3}\-\d{3}'),
    ('-0000000-0', r'\-\d{7}\-\d+'),
    ('', ''),
    (r'RE:\_\d+', r'\_\d+'),
    (None, r'\_\d+'),
    (r'RE:-\d{3}-\d{3}', r'-\d{3}-\d{3}'),
])
def test_scheme_to_regex(scheme, regex):
    assert scheme_to_regex(scheme) == regex


def test_scheme_matches_cfis_names():
    exp = file_name_regex(scheme_to_regex('-0000000-0'), '.fits')
    match = exp.match('image-2113737-10.fits')
    assert match.group('prefix') == 'image' and match.group('number') == '-2113737-10'
    assert exp.match('image-211373-10.fits') is None
    tile = file_name_regex(scheme_to_regex('-000-000'), '.fits').match('CFIS_image-277-282.fits')
    assert tile.group('prefix') == 'CFIS_image' and tile.group('number') == '-277-282'


def test_empty_scheme_matches_whole_name():
    match = file_name_regex(scheme_to_regex(''), '.sqlite').match('log_exp_headers.sqlite')
    assert match.group('prefix') == 'log_exp_headers' and match.group('number') == ''


def test_invalid_regex_is_a_config_error():
    with pytest.raises(ConfigError, match='not a valid regular expression'):
        scheme_to_regex(r'RE:\_(\d+')


def test_natural_sort():
    numbers = ['-2113737-10', '-2113737-2', '-2113737-1']
    assert sorted(numbers, key=natural_key) == ['-2113737-1', '-2113737-2', '-2113737-10']
    assert re.fullmatch(scheme_to_regex('-0000000-0'), '-2113737-39')
