"""The lab: how the course makes and stores its reference results. Notebooks never import it, and the course
layer (models, data, loop, train, plots, ...) imports nothing from it (tests/test_layers.py checks it).

    plans        what each reference experiment trains (its runs, as plain data)
    experiments  runs a plan with the course's trainer and writes its results
    store        where results live (results/NAME/): file names, run keys, reuse of stored runs
    figures      the figure of each experiment; tables: its summary table
    cli          ``python -m resnet_lessons experiment ...``
    reference    the README's results section from the stored results; did a rerun reproduce them
    provenance   how a result was made: command, commit, versions, device, data
    visdom_logger, visdom_assets   curves in a visdom server, and its page files
    edition      the student edition of the notebooks (``make student``)
    slides       the lecture decks (``make slides``); npm: page libraries from the npm registry, checked
"""
