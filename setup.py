"""Install shapepipe: the pipeline core (``shapepipe``) and its runner modules
(the ``modules/`` folder, installed as ``shapepipe.modules``)."""

from setuptools import find_packages, setup

core = find_packages(include=['shapepipe', 'shapepipe.*'])
modules = ['shapepipe.modules'] + [
    'shapepipe.modules.' + name for name in find_packages(where='modules')
]

with open('requirements.txt') as handle:
    requirements = [
        line.split('#')[0].strip() for line in handle
        if line.split('#')[0].strip() and not line.startswith('pytest')
    ]

setup(
    name='shapepipe',
    version='1.1.0.dev0',
    description='Weak-lensing shape measurement pipeline (CFIS/UNIONS)',
    long_description=open('README.rst').read(),
    long_description_content_type='text/x-rst',
    python_requires='>=3.9',
    packages=core + modules,
    package_dir={'shapepipe.modules': 'modules'},
    package_data={'shapepipe': ['data/*', 'data/**/*'], 'shapepipe.modules': ['**/data/*']},
    include_package_data=True,
    install_requires=requirements,
    entry_points={
        'console_scripts': [
            'shapepipe_run = shapepipe.pipeline.run:main',
            'shapepipe_simulate = shapepipe.commands.simulate:main',
            'shapepipe_shear_bias = shapepipe.commands.shear_bias:main',
            'cfis_field_select = shapepipe.commands.cfis_field_select:main',
            'create_star_cat = shapepipe.commands.create_star_cat:main',
            'merge_final_cat = shapepipe.commands.merge_final_cat:main',
            'MeanShapes = shapepipe.commands.mean_shapes:main',
            'get_number_objects = shapepipe.commands.get_number_objects:main',
            # the name ShapePipe's job_sp.bash calls (its scripts/python/ file name)
            'get_number_objects.py = shapepipe.commands.get_number_objects:main',
            'shapepipe_check_config = shapepipe.commands.check_config:main',
            'job_sp = shapepipe.commands.job_sp:main',
            'post_proc_sp = shapepipe.commands.post_proc_sp:main',
            'shapepipe_calibrate = shapepipe.commands.calibrate:main',
        ],
    },
)
