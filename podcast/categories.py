"""Apple Podcasts categories (exact case), from Apple's "Podcast categories" support page."""

from __future__ import annotations

APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": (
        "Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts",
    ),
    "Business": (
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality",
    ),
    "Science": (
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    ),
    "Sports": (
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}


def split_category(text: str) -> tuple[str, str | None]:
    """``"Business/Marketing"`` -> ``("Business", "Marketing")``."""
    top, _, sub = text.partition("/")
    return top.strip(), (sub.strip() or None)


def category_problem(text: str) -> str | None:
    """Why ``text`` is not an Apple category (``None`` when it is one)."""
    top, sub = split_category(text)
    if top not in APPLE_CATEGORIES:
        close = [c for c in APPLE_CATEGORIES if c.lower() == top.lower()]
        hint = f" (did you mean {close[0]!r}? case matters)" if close else ""
        return f"{top!r} is not an Apple Podcasts category{hint}"
    if sub is not None and sub not in APPLE_CATEGORIES[top]:
        allowed = ", ".join(APPLE_CATEGORIES[top]) or "none"
        return f"{sub!r} is not a subcategory of {top!r} (allowed: {allowed})"
    return None
