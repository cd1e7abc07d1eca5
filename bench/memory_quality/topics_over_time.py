"""Topics whose facts depend on when they were said: spread over sessions, updated, or dated."""

from __future__ import annotations

from .topics import CITIES, DateTopic, MultiTopic, UpdateTopic

COMPANIES = (
    "Northwind Logistics", "Brightpath Health", "Kestrel Games", "Halden Bank", "Orbital Foods",
    "Lumen Architects", "Quarry Labs", "Tidewater Energy", "Saltmarsh Media", "Copperleaf Software",
)  # fmt: skip

MULTI_TOPICS: tuple[MultiTopic, ...] = (
    MultiTopic(
        key="instrument",
        values_a=("the cello", "the trumpet", "bass guitar", "the violin", "the saxophone"),
        values_b=("the banjo", "the harmonica", "the ukulele", "the mandolin", "the flute"),
        first=("I've played {a} since I was a teenager",),
        second=("I've just started learning {b} as well, my neighbours are not impressed",),
        questions=("Which instruments do I play?",),
        indirect=("Suggest a duet I could record playing both my instruments",),
        answer="{a} and {b}",
    ),
    MultiTopic(
        key="language",
        values_a=("Cantonese", "Tamil", "Hungarian", "Yoruba", "Catalan"),
        values_b=("Japanese", "Finnish", "Korean", "Greek", "Polish"),
        first=("I speak {a} at home with my grandparents",),
        second=("I started evening classes in {b} this month",),
        questions=("Which languages do I speak or study?",),
        indirect=("Which of my languages could I use to volunteer as an interpreter?",),
        answer="{a} and {b}",
    ),
    MultiTopic(
        key="cat",
        values_a=("Miso", "Pickle", "Biscuit", "Juniper", "Turnip"),
        values_b=("Clover", "Waffles", "Hazel", "Pip", "Dumpling"),
        first=("My cat {a} knocked a plant off the shelf again",),
        second=("We also adopted a rabbit called {b}, she gets on with everyone",),
        questions=("What are my pets called?",),
        indirect=("Write a note for the pet sitter naming everyone who needs feeding",),
        answer="{a} (cat) and {b} (rabbit)",
    ),
    MultiTopic(
        key="daughter",
        values_a=("Ada", "Nora", "Zara", "Mila", "Freya"),
        values_b=("Leo", "Idris", "Mateo", "Arlo", "Kenji"),
        first=("My daughter {a} just turned seven, the party was chaos",),
        second=("My son {b} is four and already bossing his sister around",),
        questions=("What are my kids' names?",),
        indirect=("Suggest a present for each of my kids",),
        answer="{a} and {b}",
    ),
    MultiTopic(
        key="allergy",
        values_a=("peanuts", "shellfish", "sesame", "kiwi"),
        values_b=("penicillin", "latex", "birch pollen", "wasp stings"),
        first=("I'm allergic to {a}, so I read every label",),
        second=("Turns out I also react badly to {b}, found out the hard way",),
        questions=("What am I allergic to?",),
        indirect=("Plan a three-course dinner I can safely eat",),
        answer="{a} and {b}",
    ),
    MultiTopic(
        key="weekend",
        values_a=("the food bank", "the animal shelter", "a community garden", "the library"),
        values_b=("long bike rides", "board games", "trail running", "kayaking"),
        first=("I volunteer at {a} every Saturday morning",),
        second=("Sundays are for {b} with my friends",),
        questions=("What do I do at weekends?",),
        indirect=("Am I free this weekend to help a friend move house?",),
        answer="volunteering at {a} on Saturdays, {b} on Sundays",
    ),
    MultiTopic(
        key="manager",
        values_a=("Priya", "Jonah", "Beatriz", "Aleksander", "Mei"),
        values_b=CITIES,
        first=("My manager is {a}, she's great to work with",),
        second=("{a} told us today she's moving to the {b} office next spring",),
        questions=("Is my manager moving anywhere?",),
        answer="{a} is moving to {b}",
    ),
    MultiTopic(
        key="trip",
        values_a=("Hanoi", "Oaxaca", "Tbilisi", "Marrakesh", "Reykjavik"),
        values_b=("the night market", "a cooking class", "the old observatory", "the hot springs"),
        first=("I'm going to {a} for two weeks in June",),
        second=("The one thing I must do on that trip is {b}",),
        questions=("What do I want to do on my June trip, and where am I going?",),
        answer="{b} in {a}",
    ),
    MultiTopic(
        key="sibling",
        values_a=("Jonas", "Pedro", "Felix", "Omar", "Liam"),
        values_b=CITIES,
        first=("My brother {a} is a firefighter",),
        second=("{a} just moved to {b}, so I'll be visiting more",),
        questions=("Where does my brother live?",),
        indirect=("How long would it take me to get to my brother's place?",),
        answer="{b}",
    ),
)

UPDATE_TOPICS: tuple[UpdateTopic, ...] = (
    UpdateTopic(
        key="city",
        values=CITIES,
        older=("I live in {old}, nice place but the rent is steep", "Here in {old} it has rained all week"),
        newer=(
            "We finally moved, I live in {new} now",
            "Settling into {new} after the move, boxes everywhere",
        ),
        questions=("Which city do I live in?", "Where do I live now?"),
        indirect=(
            "What's the weather going to be like where I live this weekend?",
            "Find me a good dentist near my home",
        ),
    ),
    UpdateTopic(
        key="employer",
        values=COMPANIES,
        older=("I work at {old}, mostly on the internal tools team",),
        newer=(
            "Big change: I left {old} and started at {new} this week",
            "First month at {new} done, the new job is going well",
        ),
        questions=("Where do I work?", "Which company do I work for?"),
        indirect=("Help me write my email signature with my employer's name",),
    ),
    UpdateTopic(
        key="phone",
        values=("Pixel 7", "iPhone 12", "Galaxy S21", "Fairphone 4", "iPhone 15", "Pixel 9"),
        older=("My phone is a {old} and the battery barely lasts a day",),
        newer=("Finally replaced my phone, I've got a {new} now",),
        questions=("What phone do I have?",),
        indirect=("How do I take a screenshot on my phone?",),
    ),
    UpdateTopic(
        key="diet",
        values=("vegetarian", "vegan", "pescatarian", "dairy-free", "gluten-free"),
        older=("I'm {old} these days, been about two years",),
        newer=(
            "Food update: I'm {new} now, not {old} any more",
            "I switched and I've been fully {new} since last month",
        ),
        questions=("What's my diet?", "Do I have any dietary restrictions?"),
        indirect=("Suggest a dinner recipe that fits the way I eat",),
    ),
    UpdateTopic(
        key="race",
        values=("a 10k", "a half marathon", "the full marathon", "a sprint triathlon", "a trail ultra"),
        older=("I'm training for {old} in the autumn",),
        newer=("Change of plan, I signed up for {new} instead",),
        questions=("What race am I training for?",),
        indirect=("Make me a training plan for my upcoming race",),
    ),
    UpdateTopic(
        key="manager",
        values=("Priya", "Jonah", "Beatriz", "Aleksander", "Mei", "Olu", "Greta"),
        older=("My manager is {old}, pretty hands-off",),
        newer=(
            "{old} moved teams, so {new} is my manager now",
            "Had my first one-on-one with {new}, my new manager",
        ),
        questions=("Who is my manager?",),
        indirect=("Draft a message to my boss asking for Friday off",),
    ),
    UpdateTopic(
        key="show",
        values=("Severance", "The Bear", "Slow Horses", "Shogun", "Andor", "Dark", "Fleabag"),
        older=("I'm watching {old} at the moment, no spoilers please",),
        newer=("Gave up on {old}, now I'm hooked on {new}", "Started {new} last night, it's my new show"),
        questions=("What show am I watching these days?",),
        indirect=("Suggest something similar to the series I'm into right now",),
    ),
)

DATE_TOPICS: tuple[DateTopic, ...] = (
    DateTopic(
        key="teeth",
        tense="past",
        statements=("I had my wisdom teeth taken out {when}, still sore",),
        questions=("When did I have my wisdom teeth out?",),
    ),
    DateTopic(
        key="swim",
        tense="past",
        statements=("I did my first open-water swim {when}, freezing but amazing",),
        questions=("When was my first open-water swim?",),
    ),
    DateTopic(
        key="licence",
        tense="past",
        statements=("I passed my driving test {when}!!",),
        questions=("When did I pass my driving test?",),
    ),
    DateTopic(
        key="locked_out",
        tense="past",
        statements=("I got locked out of my flat {when} and had to call a locksmith",),
        questions=("When did I get locked out of my flat?",),
    ),
    DateTopic(
        key="gig",
        tense="past",
        values=("Khruangbin", "Fontaines D.C.", "Arooj Aftab", "Big Thief", "Bonobo"),
        statements=("Saw {v} live {when}, best gig of my life",),
        questions=("When did I see {v} live?",),
    ),
    DateTopic(
        key="promotion",
        tense="past",
        statements=("I got promoted to team lead {when}, still processing it",),
        questions=("When did I get promoted?",),
    ),
    DateTopic(
        key="wedding",
        tense="future",
        statements=("My sister's wedding is {when} and I still don't have a suit",),
        questions=("When is my sister's wedding?",),
    ),
    DateTopic(
        key="flight",
        tense="future",
        values=("Lisbon", "Seoul", "Nairobi", "Vancouver", "Athens"),
        statements=("My flight to {v} leaves {when}, haven't packed anything",),
        questions=("When is my flight to {v}?",),
    ),
    DateTopic(
        key="dentist",
        tense="future",
        statements=("I have a dentist appointment {when}, dreading it",),
        questions=("When is my dentist appointment?",),
    ),
    DateTopic(
        key="parents",
        tense="future",
        statements=("My parents arrive {when} to stay with us for a while",),
        questions=("When are my parents coming to stay?",),
    ),
    DateTopic(
        key="renovation",
        tense="future",
        statements=("The kitchen renovation starts {when}, we'll be living on takeaway",),
        questions=("When does the kitchen renovation start?",),
    ),
    DateTopic(
        key="exam",
        tense="future",
        values=("accountancy", "German B2", "sommelier", "pilot theory"),
        statements=("My {v} exam is {when}, wish me luck",),
        questions=("When is my {v} exam?",),
    ),
)

# Relative expressions and how far from the day they were said: days, or weeks ("w") for the week.
PAST_WHEN: tuple[tuple[str, int, str], ...] = (
    ("yesterday", -1, "d"),
    ("two days ago", -2, "d"),
    ("three days ago", -3, "d"),
    ("last week", -1, "w"),
)
FUTURE_WHEN: tuple[tuple[str, int, str], ...] = (
    ("tomorrow", 1, "d"),
    ("in two days", 2, "d"),
    ("in three days", 3, "d"),
    ("next week", 1, "w"),
    ("in two weeks", 14, "d"),
)
