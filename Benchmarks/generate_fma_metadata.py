#!/usr/bin/env python3
"""Generate a synthetic, FMA-scale metadata set for benchmarks and soak tests.

The files have the columns and the quirks of the real Free Music Archive `fma_metadata` CSVs
(see ../shared/data/fma and its README): quoted HTML with embedded newlines and "" escapes,
Python-repr lists (of dicts) in `track_genres`, `album_images`, `artist_images`, `tags`,
`MM/DD/YYYY hh:mm:ss AM` dates, year-only dates, `mm:ss` durations, empty optional fields and,
rarely, bytes that are not valid UTF-8 in text fields. The content is random; only the shape is real.

    python3 Benchmarks/generate_fma_metadata.py --out /tmp/fma-gen --seed 1

Writes raw_tracks.csv, raw_albums.csv, raw_artists.csv, tracks.csv (3 header rows) and copies the
real raw_genres.csv and genres.csv. Python 3.11 standard library only; the same seed gives the
same bytes.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

# Official sizes (../shared/README.md): the defaults aim for these.
OFFICIAL_TRACKS = 106_574
OFFICIAL_ALBUMS = 14_854
OFFICIAL_ARTISTS = 16_341

RAW_TRACKS_COLUMNS = [
    "track_id", "album_id", "album_title", "album_url", "artist_id", "artist_name", "artist_url",
    "artist_website", "license_image_file", "license_image_file_large", "license_parent_id",
    "license_title", "license_url", "tags", "track_bit_rate", "track_comments", "track_composer",
    "track_copyright_c", "track_copyright_p", "track_date_created", "track_date_recorded",
    "track_disc_number", "track_duration", "track_explicit", "track_explicit_notes",
    "track_favorites", "track_file", "track_genres", "track_image_file", "track_information",
    "track_instrumental", "track_interest", "track_language_code", "track_listens",
    "track_lyricist", "track_number", "track_publisher", "track_title", "track_url",
]
# The official name is album_date_released (the course excerpt renamed it album_year_released).
RAW_ALBUMS_COLUMNS = [
    "album_id", "album_comments", "album_date_created", "album_date_released", "album_engineer",
    "album_favorites", "album_handle", "album_image_file", "album_images", "album_information",
    "album_listens", "album_producer", "album_title", "album_tracks", "album_type", "album_url",
    "artist_name", "artist_url", "tags",
]
RAW_ARTISTS_COLUMNS = [
    "artist_id", "artist_active_year_begin", "artist_active_year_end", "artist_associated_labels",
    "artist_bio", "artist_comments", "artist_contact", "artist_date_created", "artist_donation_url",
    "artist_favorites", "artist_flattr_name", "artist_handle", "artist_image_file", "artist_images",
    "artist_latitude", "artist_location", "artist_longitude", "artist_members", "artist_name",
    "artist_paypal_name", "artist_related_projects", "artist_url", "artist_website",
    "artist_wikipedia_page", "tags",
]
TRACKS_CSV_COLUMNS = (
    [("album", name) for name in [
        "comments", "date_created", "date_released", "engineer", "favorites", "id", "information",
        "listens", "producer", "tags", "title", "tracks", "type"]]
    + [("artist", name) for name in [
        "active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
        "date_created", "favorites", "id", "latitude", "location", "longitude", "members", "name",
        "related_projects", "tags", "website", "wikipedia_page"]]
    + [("set", "split"), ("set", "subset")]
    + [("track", name) for name in [
        "bit_rate", "comments", "composer", "date_created", "date_recorded", "duration",
        "favorites", "genre_top", "genres", "genres_all", "information", "interest",
        "language_code", "license", "listens", "lyricist", "number", "publisher", "tags", "title"]]
)

LICENSES = [  # (image, large image, parent id, title, url) as they appear in raw_tracks
    ("http://i.creativecommons.org/l/by-nc-sa/3.0/us/88x31.png",
     "http://fma-files.s3.amazonaws.com/resources/img/licenses/by-nc-sa.png", "5",
     "Attribution-NonCommercial-ShareAlike 3.0 International",
     "http://creativecommons.org/licenses/by-nc-sa/3.0/"),
    ("http://i.creativecommons.org/l/by-nc-nd/3.0/88x31.png",
     "http://fma-files.s3.amazonaws.com/resources/img/licenses/by-nc-nd.png", "",
     "Attribution-NonCommercial-NoDerivatives (aka Music Sharing) 3.0 International",
     "http://creativecommons.org/licenses/by-nc-nd/3.0/"),
    ("http://i.creativecommons.org/l/by-nc-nd/3.0/us/88x31.png",
     "http://fma-files.s3.amazonaws.com/resources/img/licenses/by-nc-nd.png", "6",
     "Attribution-Noncommercial-No Derivative Works 3.0 United States",
     "http://creativecommons.org/licenses/by-nc-nd/3.0/us/"),
    ("http://i.creativecommons.org/l/by-sa/4.0/88x31.png",
     "http://fma-files.s3.amazonaws.com/resources/img/licenses/by-sa.png", "",
     "Attribution-ShareAlike", "http://creativecommons.org/licenses/by-sa/4.0/"),
    ("http://i.creativecommons.org/l/by/4.0/88x31.png",
     "http://fma-files.s3.amazonaws.com/resources/img/licenses/by.png", "",
     "Attribution", "http://creativecommons.org/licenses/by/4.0/"),
    ("http://i.creativecommons.org/l/by-nc/3.0/88x31.png",
     "http://fma-files.s3.amazonaws.com/resources/img/licenses/by-nc.png", "",
     "Attribution-NonCommercial 3.0 International", "http://creativecommons.org/licenses/by-nc/3.0/"),
]
LICENSE_WEIGHTS = [30, 25, 10, 10, 10, 15]

CURATORS = ["WFMU", "Creative_Commons", "KEXP", "Ektoplazm", "blocSonic", "Netlabels", "Free_Music_Archive"]
ALBUM_TYPES = ["Album", "Single Tracks", "Live Performance", "Radio Program", "Contest"]
ALBUM_TYPE_WEIGHTS = [70, 15, 8, 5, 2]
EXPLICIT = ["", "Radio-Safe", "Radio-Unsafe", "Adults-Only", "Radio-Safe"]
EXPLICIT_WEIGHTS = [55, 30, 10, 3, 2]
LANGUAGES = ["", "en", "es", "fr", "de", "pt", "it", "ru", "ja"]
LANGUAGE_WEIGHTS = [50, 40, 2, 2, 2, 1, 1, 1, 1]
BIT_RATES = ["320000", "256000", "192000", "128000", "160000", "-1"]
BIT_RATE_WEIGHTS = [45, 30, 12, 8, 3, 2]

SYLLABLES = ("ka ri mo na tel vex or an si lu dor ma ze fin gra po le tro ban shi "
             "quo mel ix ar ven sol da pi rok us ne ty ha gor lin bo ce").split()
WORDS = ("the of and a in to sound music record noise live band tape loop drone song guitar "
         "synth voice field night city river light dark slow fast echo room studio radio "
         "session broadcast experimental ambient electronic folk rock punk jazz improvised "
         "beat rhythm bass drum piano organ strings brass harmony melody minimal texture "
         "collective label release debut second third years together tour europe america "
         "berlin london brooklyn tokyo lagos montreal portland glasgow recorded mixed "
         "mastered produced performed composed written dedicated friends machines dreams").split()
NON_ASCII_NAMES = ["Björk Ørsted", "Zoë & the Café", "Ñandú", "Мирослав", "東京 Noise", "Żółw",
                   "Sigur Rós Tribute", "Ångström", "Beyoncé Covers", "Déjà Vu"]
PLACES = ["New Jersey", "Berlin, Germany", "Cagliari/Italy", "Porto, Portugal", "The Netherlands",
          "Brooklyn, NY", "Montréal, QC", "Tokyo", "Lagos, Nigeria", "Moldavia", "London, UK", ""]

PREFIX_TRACK_GENRES = "http://freemusicarchive.org/genre/"
FMA_MUSIC = "http://freemusicarchive.org/music/"
FMA_FILES = "https://freemusicarchive.org/file/images/"


class Text:
    """Random text from a fixed pool of sentences: fast, and varied enough for parsers."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.sentences = []
        for _ in range(4000):
            words = rng.choices(WORDS, k=rng.randint(6, 22))
            sentence = " ".join(words).capitalize() + rng.choice([".", ".", ".", "!", "...", "?"])
            roll = rng.random()
            if roll < 0.08:
                sentence += f' <a href="http://{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)}.com/">' \
                            f'{rng.choice(WORDS)}</a>'
            elif roll < 0.14:
                sentence = f'"{sentence}" said {self.name()}.'
            elif roll < 0.18:
                sentence = f"It's <em>{sentence}</em>"
            elif roll < 0.20:
                sentence += " That’s “quoted” — with café accents."
            self.sentences.append(sentence)

    def name(self, words: int | None = None) -> str:
        rng = self.rng
        count = words or rng.choice([1, 1, 2, 2, 2, 3])
        parts = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))).capitalize() for _ in range(count)]
        return " ".join(parts)

    def title(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.02:
            return rng.choice(NON_ASCII_NAMES)
        title = " ".join(w.capitalize() for w in rng.choices(WORDS, k=rng.randint(1, 5)))
        if roll < 0.05:
            title += "'s Theme"
        elif roll < 0.07:
            title = f'"{title}"'
        elif roll < 0.09:
            title += ", Part " + str(rng.randint(1, 4))
        return title

    def html(self, mean_chars: int) -> str:
        """Paragraphs of HTML, about `mean_chars` long, with embedded newlines."""
        rng = self.rng
        target = int(rng.expovariate(1 / mean_chars)) + 40
        paragraphs = []
        size = 0
        while size < target:
            sentences = rng.choices(self.sentences, k=rng.randint(2, 6))
            paragraph = "<p>" + " ".join(sentences) + "</p>"
            paragraphs.append(paragraph)
            size += len(paragraph)
        separator = "\r\n" if rng.random() < 0.1 else "\n"
        return separator.join(paragraphs)


def handle(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.replace(" ", "_"))


def us_datetime(moment: datetime) -> str:
    """MM/DD/YYYY hh:mm:ss AM, as in raw_*.csv."""
    return moment.strftime("%m/%d/%Y %I:%M:%S %p")


def us_date(moment: datetime, rng: random.Random) -> str:
    # The FMA files mix zero-padded and unpadded months: 11/26/2008, 1/01/2008, 4/27/1978.
    month = f"{moment.month:02d}" if rng.random() < 0.6 else str(moment.month)
    return f"{month}/{moment.day:02d}/{moment.year}"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def corrupt(text: str, rng: random.Random) -> str:
    """Insert a byte that is not valid UTF-8 (written through surrogateescape)."""
    if not text:
        text = "x"
    position = rng.randrange(len(text) + 1)
    bad = rng.choice(["\udce9", "\udcff", "\udc92", "\udcc3("])  # é in Latin-1, 0xFF, CP1252 ’, truncated pair
    return text[:position] + bad + text[position:]


def load_genres(genres_dir: Path):
    with open(genres_dir / "raw_genres.csv", newline="", encoding="utf-8") as f:
        raw = list(csv.DictReader(f))
    with open(genres_dir / "genres.csv", newline="", encoding="utf-8") as f:
        official = list(csv.DictReader(f))
    parent = {int(g["genre_id"]): int(g["parent"]) for g in official}
    top_level = {int(g["genre_id"]): int(g["top_level"]) for g in official}
    title = {int(g["genre_id"]): g["title"] for g in official}
    handles = {int(g["genre_id"]): g["genre_handle"] for g in raw}
    popularity = {int(g["genre_id"]): max(1, int(g["#tracks"])) for g in official}
    ids = sorted(parent)
    return ids, [popularity[i] for i in ids], parent, top_level, title, handles


def ancestors(genre: int, parent: dict[int, int]) -> list[int]:
    chain = []
    seen = set()
    while genre and genre not in seen:
        seen.add(genre)
        chain.append(genre)
        genre = parent.get(genre, 0)
    return chain


def main() -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output directory (created)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tracks", type=int, default=OFFICIAL_TRACKS, help="number of tracks")
    parser.add_argument("--albums", type=int, help="number of albums (default: in proportion to the tracks)")
    parser.add_argument("--artists", type=int, help="number of artists (default: in proportion to the tracks)")
    parser.add_argument("--durations", choices=["mmss", "seconds"], default="mmss",
                        help="raw_tracks track_duration as mm:ss (official file) or seconds (course excerpt)")
    parser.add_argument("--invalid-utf8-every", type=int, default=5000,
                        help="about one row in N gets a byte that is not valid UTF-8 in a text field (0: never)")
    parser.add_argument("--no-tracks-csv", action="store_true", help="skip the 3-header-row tracks.csv")
    parser.add_argument("--genres-dir", type=Path,
                        help="where to copy raw_genres.csv and genres.csv from (default: the first of "
                             "Tests/Fixtures/sample/fma_metadata, Tests/Fixtures, ../shared/data/fma that has both)")
    args = parser.parse_args()

    repo = Path(__file__).resolve().parent.parent
    candidates = [args.genres_dir] if args.genres_dir else [repo / "Tests" / "Fixtures" / "sample" / "fma_metadata",
                                                           repo / "Tests" / "Fixtures",
                                                           repo.parent / "shared" / "data" / "fma"]
    genres_dir = next((d for d in candidates
                       if d and (d / "raw_genres.csv").is_file() and (d / "genres.csv").is_file()), None)
    if genres_dir is None:
        print("error: raw_genres.csv and genres.csv not found in "
              + ", ".join(str(d) for d in candidates) + " (use --genres-dir)", file=sys.stderr)
        return 64

    scale = args.tracks / OFFICIAL_TRACKS
    n_tracks = args.tracks
    n_albums = args.albums or max(1, round(OFFICIAL_ALBUMS * scale))
    n_artists = args.artists or max(1, round(OFFICIAL_ARTISTS * scale))
    rng = random.Random(args.seed)
    text = Text(rng)
    genre_ids, genre_weights, genre_parent, genre_top, genre_title, genre_handle = load_genres(genres_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("raw_genres.csv", "genres.csv"):
        shutil.copyfile(genres_dir / name, args.out / name)

    def maybe_corrupt(value: str) -> str:
        if args.invalid_utf8_every and rng.random() < 1 / args.invalid_utf8_every:
            return corrupt(value, rng)
        return value

    epoch = datetime(2008, 11, 25, 17, 0, 0)
    span = (datetime(2017, 3, 30) - epoch).total_seconds()

    # ---- artists -------------------------------------------------------------------------
    artists = []
    artist_id = 0
    for index in range(n_artists):
        artist_id += rng.choice([1, 1, 1, 2, 3])
        name = rng.choice(NON_ASCII_NAMES) + f" {index}" if rng.random() < 0.02 else text.name()
        if rng.random() < 0.03:
            name += " & the " + text.name(1) + "s"
        created = epoch + timedelta(seconds=span * index / n_artists + rng.uniform(0, 3600))
        artist_handle = handle(name)
        image = f"{FMA_FILES}artists/{artist_handle}_-_{created:%Y%m%d%H%M%S}{rng.randint(100, 999)}.jpg"
        images = [{"image_id": str(rng.randint(1, 40000)), "image_file": image,
                   "image_title": f"Artist Image: {name}",
                   "image_caption": rng.choice([None, None, name, "azillion records"]),
                   "image_copyright": rng.choice([None, None, None, name]), "image_source": None}]
        begin = str(rng.randint(1965, 2016)) if rng.random() < 0.25 else ""
        end = str(rng.randint(int(begin), 2017)) if begin and rng.random() < 0.2 else ""
        has_geo = rng.random() < 0.55
        latitude = f"{rng.uniform(-45, 65):.12f}" if has_geo else ""
        longitude = f"{rng.uniform(-125, 150):.12f}" if has_geo else ""
        tags = [name.lower()] + rng.sample(WORDS, rng.choice([0, 0, 1, 2, 4])) if rng.random() < 0.7 else []
        members = ""
        if rng.random() < 0.25:
            separator = rng.choice([",", "\n", ", ", "\r\n"])
            members = separator.join(text.name(2) + rng.choice(["", " - Guitar", " - Drums", " - Voice"])
                                     for _ in range(rng.randint(2, 6)))
        artist = {
            "artist_id": str(artist_id),
            "artist_active_year_begin": begin,
            "artist_active_year_end": end,
            "artist_associated_labels": text.name() if rng.random() < 0.15 else "",
            "artist_bio": maybe_corrupt(text.html(230)) if rng.random() < 0.62 else "",
            "artist_comments": str(rng.choice([0, 0, 0, 1, 2, 5])),
            "artist_contact": text.name(2) if rng.random() < 0.2 else "",
            "artist_date_created": us_datetime(created),
            "artist_donation_url": "",
            "artist_favorites": str(int(rng.expovariate(1 / 8))),
            "artist_flattr_name": "",
            "artist_handle": artist_handle,
            "artist_image_file": image,
            "artist_images": repr(images),
            "artist_latitude": latitude,
            "artist_location": rng.choice(PLACES) if has_geo or rng.random() < 0.2 else "",
            "artist_longitude": longitude,
            "artist_members": members,
            "artist_name": name,
            "artist_paypal_name": "",
            "artist_related_projects": " ".join(rng.choices(text.sentences, k=1)) if rng.random() < 0.1 else "",
            "artist_url": f"{FMA_MUSIC}{artist_handle}/",
            "artist_website": f"http://www.{artist_handle.lower()}.com" if rng.random() < 0.6 else "",
            "artist_wikipedia_page": "",
            "tags": repr(tags),
            "_created": created,
        }
        artists.append(artist)

    # ---- albums --------------------------------------------------------------------------
    albums = []
    album_id = 0
    for index in range(n_albums):
        album_id += rng.choice([1, 1, 1, 2])
        artist = artists[min(n_artists - 1, max(0, int(index * n_artists / n_albums) + rng.randint(-20, 20)))]
        title = text.title()
        album_handle = handle(title)
        created = max(artist["_created"], epoch + timedelta(seconds=span * index / n_albums))
        image = f"{FMA_FILES}albums/{artist['artist_handle']}_-_{album_handle}_-_{created:%Y%m%d%H%M%S}.jpg"
        images = []
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            image_title = rng.choice(["albums Image", f"Album Image: {artist['artist_name']} - {title}",
                                      "artists Image"])
            if rng.random() < 0.4:
                images.append({"image_id": str(rng.randint(1, 40000)), "user_id": None, "artist_id": None,
                               "album_id": str(album_id), "curator_id": None, "image_file": image,
                               "image_title": image_title, "image_caption": None,
                               "image_copyright": None, "image_source": None, "image_order": "0"})
            else:
                images.append({"image_id": str(rng.randint(1, 40000)), "image_file": image,
                               "image_title": image_title, "image_caption": None,
                               "image_copyright": None, "image_source": None})
        released_roll = rng.random()
        released_moment = created - timedelta(days=rng.randint(0, 3000))
        if released_roll < 0.25:
            released = ""
        elif released_roll < 0.30:
            released = str(released_moment.year)  # year only
        else:
            released = us_date(released_moment, rng)
        album = {
            "album_id": str(album_id),
            "album_comments": str(rng.choice([0, 0, 0, 1, 2])),
            "album_date_created": us_datetime(created),
            "album_date_released": released,
            "album_engineer": text.name(2) if rng.random() < 0.1 else "",
            "album_favorites": str(int(rng.expovariate(1 / 3))),
            "album_handle": album_handle,
            "album_image_file": image if images else "",
            "album_images": repr(images),
            "album_information": maybe_corrupt(text.html(960)) if rng.random() < 0.72 else "",
            "album_listens": str(int(rng.expovariate(1 / 6000))),
            "album_producer": text.name(2) if rng.random() < 0.1 else "",
            "album_title": title,
            "album_tracks": "0",
            "album_type": rng.choices(ALBUM_TYPES, ALBUM_TYPE_WEIGHTS)[0],
            "album_url": f"{artist['artist_url']}{album_handle}/",
            "artist_name": artist["artist_name"],
            "artist_url": artist["artist_url"],
            "tags": repr(rng.sample(WORDS, rng.choice([0, 0, 0, 1, 2]))),
            "_artist": artist,
            "_created": created,
            "_released": released_moment if released else None,
            "_count": 0,
        }
        albums.append(album)

    # ---- tracks --------------------------------------------------------------------------
    raw_tracks_path = args.out / "raw_tracks.csv"
    tracks_csv_path = args.out / "tracks.csv"
    raw_tracks_file = open(raw_tracks_path, "w", newline="", encoding="utf-8", errors="surrogateescape")
    raw_tracks = csv.writer(raw_tracks_file, lineterminator="\n")
    raw_tracks.writerow(RAW_TRACKS_COLUMNS)
    tracks_file = None
    if not args.no_tracks_csv:
        tracks_file = open(tracks_csv_path, "w", newline="", encoding="utf-8", errors="surrogateescape")
        tracks_csv = csv.writer(tracks_file, lineterminator="\n")
        tracks_csv.writerow([""] + [top for top, _ in TRACKS_CSV_COLUMNS])
        tracks_csv.writerow([""] + [field for _, field in TRACKS_CSV_COLUMNS])
        tracks_csv.writerow(["track_id"] + [""] * len(TRACKS_CSV_COLUMNS))

    # Deal tracks out to albums first, so that album_tracks is right in tracks.csv too.
    # Albums with longer descriptions get more tracks (popular releases are better documented),
    # which is what makes the real tracks.csv, with album text repeated per track, so large.
    mean_information = max(1.0, sum(len(a["album_information"]) for a in albums) / n_albums)
    track_albums: list[dict] = []
    album_cursor = 0
    while len(track_albums) < n_tracks:
        album = albums[album_cursor % n_albums]
        album_cursor += 1
        weight = (1.0 + len(album["album_information"]) / mean_information) / 2.0
        size = max(1, int(rng.expovariate(1 / (weight * n_tracks / n_albums))))
        take = min(size, n_tracks - len(track_albums))
        track_albums.extend([album] * take)
        album["_count"] += take
    for album in albums:
        album["album_tracks"] = str(album["_count"])
        album["_number"] = 0
        primary = rng.choices(genre_ids, genre_weights)[0]
        album["_genres"] = [primary] + rng.choices(genre_ids, genre_weights, k=rng.choice([0, 0, 1, 2]))

    track_id = 1
    small_left, medium_left = round(8000 * scale), round(17000 * scale)
    for index in range(n_tracks):
        track_id += rng.choice([1, 1, 1, 1, 2, 2, 2])  # FMA ids have gaps (deleted tracks)
        album = track_albums[index]
        album_genres = album["_genres"]
        has_album = rng.random() > 0.03
        artist = album["_artist"]
        album["_number"] += 1
        number = album["_number"]
        title = text.title()
        genres = list(dict.fromkeys(album_genres if rng.random() < 0.9
                                    else rng.choices(genre_ids, genre_weights, k=rng.randint(1, 3))))
        if rng.random() < 0.02:
            genres = []
        genre_dicts = [{"genre_id": str(g), "genre_title": genre_title[g],
                        "genre_url": f"{PREFIX_TRACK_GENRES}{genre_handle.get(g, handle(genre_title[g]))}/"}
                       for g in genres]
        created = album["_created"] + timedelta(seconds=rng.randint(0, 600) + 2 * number)
        recorded_roll = rng.random()
        if recorded_roll < 0.55:
            recorded = ""
        elif recorded_roll < 0.60:
            recorded = str(created.year - rng.randint(0, 30))  # year only
        else:
            recorded = us_date(created - timedelta(days=rng.randint(0, 4000)), rng)
        seconds = max(1, int(rng.lognormvariate(5.4, 0.55)))
        if rng.random() < 0.003:  # DJ mixes and radio shows run for hours
            seconds = rng.randint(3600, 4 * 3600)
        if args.durations == "seconds":
            duration = str(seconds)
        elif seconds >= 3600:
            duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        else:
            duration = f"{seconds // 60:02d}:{seconds % 60:02d}"
        license_ = rng.choices(LICENSES, LICENSE_WEIGHTS)[0]
        track_handle = handle(title)
        curator = rng.choice(CURATORS)
        information = maybe_corrupt(text.html(700)) if rng.random() < 0.20 else ""
        tags = repr(rng.sample(WORDS, rng.randint(1, 4))) if rng.random() < 0.2 else "[]"
        listens = int(rng.expovariate(1 / 2300))
        row = {
            "track_id": str(track_id),
            "album_id": album["album_id"] if has_album else "",
            "album_title": album["album_title"] if has_album else "",
            "album_url": album["album_url"] if has_album else "",
            "artist_id": artist["artist_id"],
            "artist_name": artist["artist_name"],
            "artist_url": artist["artist_url"],
            "artist_website": artist["artist_website"],
            "license_image_file": license_[0],
            "license_image_file_large": license_[1],
            "license_parent_id": license_[2],
            "license_title": license_[3],
            "license_url": license_[4],
            "tags": tags,
            "track_bit_rate": rng.choices(BIT_RATES, BIT_RATE_WEIGHTS)[0] if rng.random() < 0.97
                              else str(rng.randint(96000, 320000)),
            "track_comments": str(rng.choice([0, 0, 0, 0, 1, 2])),
            "track_composer": text.name(2) if rng.random() < 0.08 else "",
            "track_copyright_c": f"{created.year} {artist['artist_name']}" if rng.random() < 0.05 else "",
            "track_copyright_p": f"{created.year} {artist['artist_name']}" if rng.random() < 0.03 else "",
            "track_date_created": us_datetime(created),
            "track_date_recorded": recorded,
            "track_disc_number": "1" if rng.random() < 0.95 else str(rng.randint(2, 3)),
            "track_duration": duration,
            "track_explicit": rng.choices(EXPLICIT, EXPLICIT_WEIGHTS)[0],
            "track_explicit_notes": "Contains explicit lyrics" if rng.random() < 0.005 else "",
            "track_favorites": str(int(rng.expovariate(1 / 3))),
            "track_file": f"music/{curator}/{artist['artist_handle']}/{album['album_handle']}/"
                          f"{artist['artist_handle']}_-_{number:02d}_-_{track_handle}.mp3",
            "track_genres": repr(genre_dicts),
            "track_image_file": album["album_image_file"],
            "track_information": information,
            "track_instrumental": "1" if rng.random() < 0.1 else "0",
            "track_interest": str(listens * 2 + rng.randint(0, 500)),
            "track_language_code": rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0],
            "track_listens": str(listens),
            "track_lyricist": text.name(2) if rng.random() < 0.03 else "",
            "track_number": str(number),
            "track_publisher": text.name() if rng.random() < 0.03 else "",
            "track_title": maybe_corrupt(title),
            "track_url": f"{album['album_url']}{track_handle}",
        }
        raw_tracks.writerow([row[c] for c in RAW_TRACKS_COLUMNS])

        if tracks_file is not None:
            all_genres = []
            for g in genres:
                for a in ancestors(g, genre_parent):
                    if a not in all_genres:
                        all_genres.append(a)
            tops = {genre_top[g] for g in genres}
            genre_top_title = genre_title[tops.pop()] if len(tops) == 1 else ""
            if small_left > 0 and genre_top_title and rng.random() < 0.2:
                subset, small_left = "small", small_left - 1
            elif medium_left > 0 and genre_top_title and rng.random() < 0.3:
                subset, medium_left = "medium", medium_left - 1
            else:
                subset = "large"
            released = album["_released"]
            begin = artist["artist_active_year_begin"]
            end = artist["artist_active_year_end"]
            album_fields = [
                album["album_comments"], iso(album["_created"]),
                iso(released.replace(hour=0, minute=0, second=0)) if released else "",
                album["album_engineer"], album["album_favorites"], album["album_id"],
                album["album_information"], album["album_listens"], album["album_producer"], album["tags"],
                album["album_title"], album["album_tracks"], album["album_type"],
            ] if has_album else [""] * 13
            tracks_csv.writerow([str(track_id)] + album_fields + [
                f"{begin}-01-01 00:00:00" if begin else "", f"{end}-01-01 00:00:00" if end else "",
                artist["artist_associated_labels"], artist["artist_bio"], artist["artist_comments"],
                iso(artist["_created"]), artist["artist_favorites"], artist["artist_id"],
                artist["artist_latitude"].rstrip("0"), artist["artist_location"],
                artist["artist_longitude"].rstrip("0"), artist["artist_members"], artist["artist_name"],
                artist["artist_related_projects"], artist["tags"], artist["artist_website"],
                artist["artist_wikipedia_page"],
                rng.choices(["training", "validation", "test"], [80, 10, 10])[0], subset,
                row["track_bit_rate"], row["track_comments"], row["track_composer"], iso(created),
                iso(datetime.strptime(recorded, "%m/%d/%Y")) if "/" in recorded else "",
                str(seconds), row["track_favorites"], genre_top_title,
                repr(genres), repr(all_genres), information, row["track_interest"],
                row["track_language_code"], row["license_title"], row["track_listens"],
                row["track_lyricist"], row["track_number"], row["track_publisher"], tags, row["track_title"],
            ])

    raw_tracks_file.close()
    if tracks_file is not None:
        tracks_file.close()

    for path, columns, rows in ((args.out / "raw_albums.csv", RAW_ALBUMS_COLUMNS, albums),
                                (args.out / "raw_artists.csv", RAW_ARTISTS_COLUMNS, artists)):
        with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row[c] for c in columns])

    official = {"raw_tracks.csv": 122_246_181, "raw_albums.csv": 24_144_296,
                "raw_artists.csv": 14_044_281, "tracks.csv": 260_414_445}
    for name in ("raw_tracks.csv", "raw_albums.csv", "raw_artists.csv", "tracks.csv",
                 "raw_genres.csv", "genres.csv"):
        path = args.out / name
        if path.exists():
            size = path.stat().st_size
            reference = f"  (official {official[name] / 1e6:.1f} MB: {size / (official[name] * scale):.0%})" \
                if name in official else ""
            print(f"{path}: {size:,} bytes{reference}")
    print(f"{n_tracks:,} tracks, {n_albums:,} albums, {n_artists:,} artists in "
          f"{time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
