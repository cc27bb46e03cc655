"""The JavaScript and CSS files visdom's web page needs, fetched once from the npm registry.

visdom's pip package ships its page code but not the libraries it loads (jQuery, Bootstrap, React, Plotly,
d3, MathJax...), which ``python -m visdom.server`` downloads from CDNs on its first start; without them the
page stays blank. The npm registry has the same files in the same versions, so we take them from there
(through :mod:`resnet_lessons.lab.npm`) into visdom's ``static/`` folder::

    python -m resnet_lessons.lab.visdom_assets          # what `make lab` / `make test` run after installing
    python -m resnet_lessons visdom                     # does the same before serving, if files are missing
"""

from __future__ import annotations

import sys
from pathlib import Path

from resnet_lessons.lab.npm import AssetsError, NpmPackage, default_cache, tarballs, unpack


def _glyphicons(kind: str) -> str:
    return f"fonts/glyphicons-halflings-regular.{kind}"


_MATHJAX_FILES = (  # the files visdom's list takes from cdnjs' mathjax/2.7.5/
    "MathJax.js", "config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js", "extensions/Safe.js",
    "jax/output/SVG/config.js", "jax/output/SVG/jax.js", "jax/output/SVG/fonts/TeX/fontdata.js",
    "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js",
)

# visdom 0.2.4's download list (visdom/server/build.py), file by file, as npm packages of the same
# versions. Where visdom's URL is not on unpkg: cdn.plot.ly/plotly-2.11.1.min.js is the package
# plotly.js-dist-min 2.11.1; d3js.org/d3.v3.min.js is d3 3.5.17 (the last v3); d3js.org's
# d3-selection-multi.v1.js is d3-selection-multi 1.0.1 (the last v1).
PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage("jquery", "3.1.1",
               "sha512-zuiWRmx65Kd1oFGdWLvAjbsumdOBFvs3r1vuqCyKFF79R7exBHNbiNEJ8LR+xkzgfxqBznMD/4Cv6PHXS6mvEw==",
               {"dist/jquery.min.js": "js/jquery.min.js"}),
    NpmPackage("bootstrap", "3.3.7",
               "sha512-qcFaisBrcBhTFkz1IUnGDYnX6ZWfFzH8zOixUDtHW9Ip+r+7MfMFav2rzy7cIHc7rgIg7xjhWBoo1mS/U26j4g==",
               {"dist/js/bootstrap.min.js": "js/bootstrap.min.js",
                "dist/css/bootstrap.min.css": "css/bootstrap.min.css",
                **{f"dist/{_glyphicons(k)}": _glyphicons(k) for k in ("eot", "woff2", "woff", "ttf")},
                # visdom saves the SVG font under its URL's name, fragment included
                f"dist/{_glyphicons('svg')}": _glyphicons("svg") + "#glyphicons_halflingsregular"}),
    NpmPackage("react", "16.2.0",
               "sha512-ZmIomM7EE1DvPEnSFAHZn9Vs9zJl5A9H7el0EGTE6ZbW9FKe/14IYAlPbC8iH25YarEQxZL+E8VW7Mi7kfQrDQ==",
               {"umd/react.production.min.js": "js/react-react.min.js"}),
    NpmPackage("react-dom", "16.2.0",
               "sha512-zpGAdwHVn9K0091d+hr+R0qrjoJ84cIBFL2uU60KvWBPfZ7LPSrfqviTxGHWN0sjPZb2hxWzMexwrvJdKePvjg==",
               {"umd/react-dom.production.min.js": "js/react-dom.min.js"}),
    NpmPackage("react-modal", "3.1.10",
               "sha512-7b77AGWCkdg0YOf/qcYIGCpuwbxRwOA8P3UrUovk4grUNv+idOmHovJAx/Dcd3fuwHtgixxVjpcjVG60985MSA==",
               {"dist/react-modal.min.js": "js/react-modal.min.js"}),
    NpmPackage("plotly.js-dist-min", "2.11.1",
               "sha512-F9WWNht0D3yBLZGHbLoJNfvplXvy+GUPSsA/lCbMuYd/UwzSu6Vmyprxlps9Einw1LDS1hYBrJeioK0lE3ieXA==",
               {"plotly.min.js": "js/plotly-plotly.min.js"}),
    NpmPackage("sjcl", "1.0.7",
               "sha512-xQbiwKfiAj6vyk44ANJ5RRymALRdRZOuRoKNYkWUU404p/RFXmMaay1Z5vRn30GJjkD+psox4Jd38jZojSuNYA==",
               {"sjcl.js": "js/sjcl.js"}),
    NpmPackage("layout-bin-packer", "1.4.0",
               "sha512-dQOZnajbOBGIcS9YlzKrkRtMCGa2oEpyf1zGRn93suphSvPclJe54Sbgtb053GJ21DUk84IBzaeQvjn+Gb10fA==",
               {"dist/layout-bin-packer.js": "js/layout_bin_packer.js",
                "dist/layout-bin-packer.js.map": "js/layout-bin-packer.js.map"}),
    NpmPackage("d3", "3.5.17",
               "sha512-yFk/2idb8OHPKkbAL8QaOaqENNoMhIaSHZerk3oQsECwkObkCpJyjYwCe+OHiq6UEdhe1m8ZGARRRO3ljFjlKg==",
               {"d3.min.js": "js/d3.v3.min.js"}),
    NpmPackage("d3-selection-multi", "1.0.1",
               "sha512-mEnRkJ6A+Otd1LuRPV3az+s/RLDmIEhuz/MnT21O2nPcWNH7wZotdIlRjMA4Wpr+n7AESQ5fD8v1J3nL2Mnw9g==",
               {"build/d3-selection-multi.js": "js/d3-selection-multi.v1.js"}),
    NpmPackage("save-svg-as-png", "1.4.17",
               "sha512-7QDaqJsVhdFPwviCxkgHiGm9omeaMBe1VKbHySWU6oFB2LtnGCcYS13eVoslUgq6VZC6Tjq/HddBd1K6p2PGpA==",
               {"lib/saveSvgAsPng.js": "js/saveSvgAsPng.js"}),
    NpmPackage("react-resizable", "1.4.6",
               "sha512-4zLORO51u0/mlDsrVCAA4p266d+3mb2ZMNdiWOotAh/PdnfrRzZhgePmKE08PSQatXVIfMjmyD+Sapay8tmxdQ==",
               {"css/styles.css": "css/react-resizable-styles.css"}),
    NpmPackage("react-grid-layout", "0.16.3",
               "sha512-ytP92EqUjqcFhGzvdeKrK610dQ04GdFwRCWtD6PoeL5wR3liETcFISO7k8RBqnosV86JtXf/DwIfrL0COLs0gg==",
               {"css/styles.css": "css/react-grid-layout-styles.css"}),
    NpmPackage("classnames", "2.2.5",
               "sha512-DTt3GhOUDKhh4ONwIJW4lmhyotQmV2LjNlGK/J2hkwUcqcbKkCLAdJPtxQnxnlc7SR3f1CEXCyMmc7WLUsWbNA==",
               {"index.js": "fonts/classnames"}),  # visdom's list puts it there, under that name
    NpmPackage("mathjax", "2.7.5",
               "sha512-OzsJNitEHAJB3y4IIlPCAvS0yoXwYjlo2Y4kmm9KQzyIBZt2d8yKRalby3uTRNN4fZQiGL2iMXjpdP1u2Rq2DQ==",
               {path: f"js/mathjax/2.7.5/{path}" for path in _MATHJAX_FILES}),
)


def static_dir() -> Path:
    """visdom's ``static/`` folder, where its server looks for the page's files."""
    import visdom

    return Path(visdom.__file__).parent / "static"


def missing(static: Path | None = None) -> list[str]:
    """The page's files (paths under ``static/``) that are not in place."""
    static = static_dir() if static is None else Path(static)
    return [dest for package in PACKAGES for dest in package.files.values() if not (static / dest).is_file()]


def install(static: Path | None = None, cache: Path | None = None) -> list[str]:
    """Put every missing page file in place; return the files written (empty when all were there).

    Raises :class:`AssetsError` (one line saying what failed) when a package cannot be fetched.
    """
    static = static_dir() if static is None else Path(static)
    written = missing(static)
    todo = [p for p in PACKAGES if any(dest in written for dest in p.files.values())]
    data = tarballs(todo, default_cache() if cache is None else Path(cache))
    for package in todo:
        try:
            unpack(package, data[package], static)
        except OSError as e:
            raise AssetsError(f"could not write visdom's page files into {static} ({e})") from e
    if written:
        import visdom

        # visdom's own first-start download then sees its files in place and skips them.
        (static / "version.built").write_text(visdom.__version__)
    return written


HOW_TO_GET_THEM = ("run `python -m resnet_lessons.lab.visdom_assets` once with access to the npm registry "
                   "(registry.npmjs.org), or `python -m visdom.server` once with internet")


def main(argv: list[str] | None = None) -> int:
    """``python -m resnet_lessons.lab.visdom_assets``: put visdom's page files in place; 1 line if it cannot."""
    try:
        written = install()
    except ImportError:
        print("visdom is not installed: pip install 'resnet-lessons[visdom]'", file=sys.stderr)
        return 1
    except AssetsError as e:
        print(f"visdom page files: {len(missing())} missing and {e}; the page will show no plots until you "
              f"{HOW_TO_GET_THEM}.", file=sys.stderr)
        return 1
    where = static_dir()
    print(f"visdom page files: {len(written)} put in place in {where}" if written
          else f"visdom page files: all {sum(len(p.files) for p in PACKAGES)} already in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
