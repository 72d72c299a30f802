"""Writes models/data/imagenet_classes.txt: the 1000 ImageNet-1k class names, one a line, in index order.

Run once, at development time, where torchvision is installed (its weights metadata carries the names); the
runtime reads the committed text file and needs no torch:

  python models/data/make_imagenet_classes.py
"""
from pathlib import Path

from torchvision.models._meta import _IMAGENET_CATEGORIES


def main() -> None:
  names = list(_IMAGENET_CATEGORIES)
  if len(names) != 1000 or any("\n" in n or not n.strip() for n in names):
    raise SystemExit("torchvision's ImageNet category list is not 1000 one-line names")
  out = Path(__file__).resolve().parent / "imagenet_classes.txt"
  out.write_text("\n".join(names) + "\n", encoding="utf-8")
  print(f"wrote {len(names)} names to {out}")


if __name__ == "__main__":
  main()
