#!/usr/bin/env python3
"""Write raw_artists--10mb-field.csv: a raw_artists file whose first artist has a 10 MiB artist_bio.

Generated on demand instead of committed. The bio is quoted HTML with embedded newlines, commas and
doubled quotes, so a streaming reader must carry one field across many buffer refills. The rows are
artists 1 and 10002 of the real raw_artists sample; only artist 1's bio is replaced.

    python3 Tests/Fixtures/malformed/make_large.py --out /tmp/x/raw_artists.csv [--size BYTES]

The unescaped bio is exactly --size bytes (default 10,485,760), pure ASCII, the same on every run.
"""

import argparse
import csv
import sys
from pathlib import Path

HEADER = [
    'artist_id',
    'artist_active_year_begin',
    'artist_active_year_end',
    'artist_associated_labels',
    'artist_bio',
    'artist_comments',
    'artist_contact',
    'artist_date_created',
    'artist_donation_url',
    'artist_favorites',
    'artist_flattr_name',
    'artist_handle',
    'artist_image_file',
    'artist_images',
    'artist_latitude',
    'artist_location',
    'artist_longitude',
    'artist_members',
    'artist_name',
    'artist_paypal_name',
    'artist_related_projects',
    'artist_url',
    'artist_website',
    'artist_wikipedia_page',
    'tags']
ARTIST_1 = [
    '1',
    '2006',
    '',
    '',
    '<p>A Way Of Life, A Collective of Hip-Hop from NJ...................</p>',
    '0',
    'Brown Bum aka Choke',
    '11/26/2008 01:42:32 AM',
    '',
    '9',
    '',
    'AWOL',
    'https://freemusicarchive.org/file/images/artists/AWOL_-_2009113014453413.jpg',
    "[{'image_id': '1955', 'image_file': "
    "'https://freemusicarchive.org/file/images/artists/AWOL_-_2009113014453413.jpg', "
    "'image_title': 'artists Image', 'image_caption': 'azillion records', 'image_copyright': None, "
    "'image_source': None}]",
    '40.058323800000',
    'New Jersey',
    '-74.405661200000',
    'Sajje Morocco,Brownbum,ZawidaGod,Custodian of Records,Zooberelli the '
    'Don,F.A.H,MadSicka,Damien Omenicci..and a van load more...',
    'AWOL',
    '',
    'The list of past projects is 2 long but every1 and every style from Tabby Bonet 2 '
    'M.O.P..Azillion Records Flagship trackmaster DJ BrownBum is a beat '
    'Wizard.....A-2-Z..illion....(right now working with JerseyBlock Ent)',
    'http://freemusicarchive.org/music/AWOL/',
    'http://www.AzillionRecords.blogspot.com',
    '',
    "['awol']"]
ARTIST_10002 = [
    '10002',
    '',
    '',
    '',
    '',
    '0',
    '',
    '1/22/2011 12:10:00 PM',
    '',
    '2',
    '',
    'Carlos_Ramirez',
    'https://freemusicarchive.org/file/images/artists/Carlos_Ramirez_-_20110122111456036.jpg',
    "[{'image_id': '12270', 'image_file': "
    "'https://freemusicarchive.org/file/images/artists/Carlos_Ramirez_-_20110122111456036.jpg', "
    "'image_title': 'Artist Image: Carlos Ramirez', 'image_caption': 'Carlos Ramirez', "
    "'image_copyright': 'Carlos Ramirez', 'image_source': "
    "'http://www.facebook.com/profile.php?id=1648564857&amp;sk=info'}]",
    '',
    '',
    '',
    '',
    'Carlos Ramirez',
    '',
    '',
    'http://freemusicarchive.org/music/Carlos_Ramirez/',
    'http://www.reverbnation.com/coatzin',
    '',
    "['carlos ramirez']"]
BIO_COLUMN = HEADER.index("artist_bio")


def bio(size: int) -> str:
    parts = []
    length = 0
    line = 0
    while length < size:
        paragraph = f'<p>Paragraph {line}: a "collective", of Hip-Hop, from NJ.</p>\n'
        parts.append(paragraph)
        length += len(paragraph)
        line += 1
    return "".join(parts)[:size]


def main() -> int:
    parser = argparse.ArgumentParser(description="write a raw_artists CSV with one huge field")
    parser.add_argument("--out", required=True, type=Path, help="file to write")
    parser.add_argument("--size", type=int, default=10 * 1024 * 1024, help="bio length in bytes")
    args = parser.parse_args()
    first = list(ARTIST_1)
    first[BIO_COLUMN] = bio(args.size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="ascii") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerows([HEADER, first, ARTIST_10002])
    print(f"{args.out}: {args.out.stat().st_size:,} bytes, artist_bio of artist 1 is {args.size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
