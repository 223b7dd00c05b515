"""List and check a job's data: image names, sizes, GT coverage. Reports progress as it goes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from marketplace.config import Settings
from marketplace.datasets.ground_truth import GroundTruth, check_geometry_inside
from marketplace.errors import InvalidInput
from marketplace.storage import Storage
from marketplace.storage.base import ObjectInfo
from marketplace.storage.images import ImageInfo, probe_image

# progress(phase, done, total): total is None while the size is not known yet (listing).
Progress = Callable[[str, int, int | None], None]
PROBE_THREADS = 16


def no_progress(phase: str, done: int, total: int | None) -> None:
    return None


@dataclass(frozen=True)
class DataCheck:
    images: list[ImageInfo]
    gt_names: frozenset[str]

    @property
    def data_count(self) -> int:
        return len(self.images) - len(self.gt_names)


def list_images(storage: Storage, progress: Progress) -> list[ObjectInfo]:
    found: list[ObjectInfo] = []
    for obj in storage.iter_images(""):
        found.append(obj)
        if len(found) % 500 == 0:
            progress("listing", len(found), None)
    progress("listing", len(found), len(found))
    return found


def check_unique_names(keys: Iterable[str]) -> None:
    seen: dict[str, str] = {}
    for key in keys:
        folded = key.casefold()
        if folded in seen:
            raise InvalidInput(
                f"duplicate image name: {seen[folded]!r} and {key!r} differ only in letter case"
                if seen[folded] != key
                else f"duplicate image name: {key!r}",
                field="data",
            )
        seen[folded] = key


def probe_all(
    storage: Storage, objects: list[ObjectInfo], settings: Settings, progress: Progress
) -> list[ImageInfo]:
    total = len(objects)
    out: list[ImageInfo] = []
    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        for info in pool.map(lambda o: probe_image(storage, o.key, settings, size_bytes=o.size), objects):
            out.append(info)
            if len(out) % 100 == 0 or len(out) == total:
                progress("checking", len(out), total)
    return out


def check_data(
    storage: Storage,
    gt: GroundTruth,
    *,
    gt_per_assignment: int,
    settings: Settings,
    progress: Progress = no_progress,
) -> DataCheck:
    objects = list_images(storage, progress)
    keys = [obj.key for obj in objects]
    check_unique_names(keys)
    if len(keys) < 2:
        raise InvalidInput(f"the data holds {len(keys)} image(s); a job needs at least 2", field="data")
    missing = sorted(set(gt.images) - set(keys))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InvalidInput(f"GT images not found in the data: {shown}{more}", field="gt")
    check_gt_size(len(keys), len(gt.images), gt_per_assignment)
    images = probe_all(storage, objects, settings, progress)
    sizes = {img.name: img for img in images}
    for name, gt_image in gt.images.items():
        check_geometry_inside(gt_image, *sizes[name].display_size)
    return DataCheck(images=images, gt_names=frozenset(gt.images))


def check_gt_size(total_images: int, gt_images: int, gt_per_assignment: int) -> None:
    if gt_images < gt_per_assignment:
        raise InvalidInput(
            f"the GT has {gt_images} image(s) but every assignment mixes in {gt_per_assignment}; "
            "add GT images or lower gt_per_assignment",
            field="gt",
        )
    if total_images - gt_images < 1:
        raise InvalidInput(
            f"all {total_images} images are GT; at least one image must be left to annotate", field="gt"
        )
