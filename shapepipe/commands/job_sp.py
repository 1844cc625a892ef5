"""``job_sp``: process CFIS tiles and their exposures with the production
configs of ``example/cfis`` (ShapePipe's ``job_sp.bash``, as a command)."""

import re


def fill_shape_template(text, k, id_min, id_max, psf):
    """A ``config_tile_Ng_template.ini`` for ID range ``k`` (as job_sp.bash's perl):
    ``ID_OBJ_MIN/MAX = X`` set, ``NgXu`` -> ``Ng<k>u``, ``X_interp`` -> ``<psf>_interp``."""
    text = re.sub(r'(ID_OBJ_MIN\s*=)\s*X\b', rf'\g<1> {id_min}', text)
    text = re.sub(r'(ID_OBJ_MAX\s*=)\s*X\b', rf'\g<1> {id_max}', text)
    return text.replace('NgXu', f'Ng{k}u').replace('X_interp', f'{psf}_interp')


def fill_merge_template(text, n_split):
    """A ``config_merge_sep_cats_template.ini`` with ``N_SPLIT_MAX = X`` set."""
    return re.sub(r'(N_SPLIT_MAX\s*=)\s*X\b', rf'\g<1> {n_split}', text)
