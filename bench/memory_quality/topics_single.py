"""Facts said once: each with the questions that ask for it and confusers about someone else."""

from __future__ import annotations

from .topics import CITIES, SingleTopic

SINGLE_TOPICS: tuple[SingleTopic, ...] = (
    SingleTopic(
        key="cat",
        values=("Miso", "Pickle", "Biscuit", "Juniper", "Turnip", "Mochi", "Pepper", "Ziggy", "Nimbus"),
        statements=(
            "My cat is called {v} and she wakes me up at 5am every single day",
            "Sorry for the typos, {v} my cat just walked across the keyboard",
            "I named my cat {v} after a character in a book I loved as a kid",
        ),
        questions=("What's my cat's name?", "What is my cat called?"),
        indirect=(
            "Write a short birthday poem for my cat, use her name",
            "Help me make a name tag for my pet",
        ),
        confusers=(
            "My neighbour's cat {v} keeps sneaking into our kitchen",
            "My sister named her kitten {v}, which I think is adorable",
        ),
    ),
    SingleTopic(
        key="job",
        values=(
            "a structural engineer",
            "a pediatric nurse",
            "a chemistry teacher",
            "a data analyst",
            "a sous-chef",
            "a UX researcher",
            "an air traffic controller",
            "a veterinarian",
            "a court translator",
            "a landscape architect",
            "a physiotherapist",
            "a backend developer",
        ),
        statements=(
            "I work as {v}, have done for about six years now",
            "Long shift today, being {v} is not as glamorous as people think",
            "For context, I'm {v} by trade",
        ),
        questions=("What do I do for a living?", "What's my job?"),
        indirect=(
            "Help me write a one-line LinkedIn headline for myself",
            "How should I describe what I do at a dinner party?",
        ),
        confusers=(
            "My cousin works as {v} and keeps telling me to switch careers",
            "I met someone at a party who works as {v}, fascinating job",
        ),
    ),
    SingleTopic(
        key="hometown",
        values=CITIES,
        statements=(
            "I grew up in {v}, my parents still live there",
            "I was born and raised in {v}",
            "Back in {v}, where I grew up, we went to the coast every summer",
        ),
        questions=("Where did I grow up?", "Which city am I originally from?"),
        indirect=("Recommend a few things to do when I visit my parents back home",),
        confusers=(
            "My partner grew up in {v}, so we visit there at Christmas",
            "My best friend is from {v} and talks about it constantly",
        ),
    ),
    SingleTopic(
        key="allergy",
        values=("peanuts", "shellfish", "penicillin", "sesame", "kiwi", "latex", "birch pollen"),
        statements=(
            "Heads up, I'm allergic to {v}, it's pretty serious",
            "I have a {v} allergy, so I have to be careful",
        ),
        questions=("What am I allergic to?", "Do I have any allergies?"),
        indirect=(
            "Suggest a stir-fry recipe that is safe for me to eat",
            "What should I tell a restaurant before I order?",
        ),
        confusers=(
            "My friend has a terrible {v} allergy, we had to leave a restaurant once",
            "A kid in my daughter's class is allergic to {v}",
        ),
    ),
    SingleTopic(
        key="instrument",
        values=(
            "the cello",
            "the trumpet",
            "bass guitar",
            "the accordion",
            "the violin",
            "drums",
            "the saxophone",
        ),
        statements=(
            "I've played {v} since I was nine",
            "I practise {v} for an hour most evenings",
        ),
        questions=("Which instrument do I play?", "What instrument do I play?"),
        indirect=(
            "Suggest a piece I could practise this week",
            "Find me a good teacher for my instrument nearby",
        ),
        confusers=(
            "My roommate plays {v} and the walls here are very thin",
            "Went to a concert where the guy on {v} stole the show",
        ),
    ),
    SingleTopic(
        key="team",
        values=(
            "FC Porto",
            "the Chicago Cubs",
            "Arsenal",
            "the Boston Celtics",
            "Ajax",
            "the Green Bay Packers",
            "Celtic",
            "the Toronto Raptors",
            "Athletic Bilbao",
        ),
        statements=(
            "I've supported {v} my whole life, through thick and thin",
            "Did you see {v} last night? That's my team, I was shouting at the TV",
        ),
        questions=("Which team do I support?", "Who's my team?"),
        indirect=("Did my lot win their last game?", "Find me a shirt of my club for my birthday"),
        confusers=(
            "My dad is a huge {v} fan, we argue about it every weekend",
            "My boss supports {v}, so Mondays after a loss are tense",
        ),
    ),
    SingleTopic(
        key="coffee",
        values=("oat flat white", "double espresso", "iced americano", "cortado", "cardamom latte"),
        statements=(
            "My usual coffee order is a {v}, no sugar",
            "Can't function before my {v} in the morning, that's my standard order",
        ),
        questions=("What's my usual coffee order?", "How do I take my coffee?"),
        indirect=("Order me my usual at the café downstairs",),
        confusers=(
            "My coworker always orders a {v}, I don't get it",
            "The café downstairs does a great {v}, according to my team",
        ),
    ),
    SingleTopic(
        key="partner",
        values=("Tomas", "Leila", "Marcus", "Yuki", "Sofia", "Dev", "Hannah", "Kofi", "Ines", "Rui"),
        statements=(
            "My partner {v} is cooking tonight, thank goodness",
            "{v}, my partner, thinks I spend too much time on Slack",
        ),
        questions=("What's my partner's name?", "Who is my partner?"),
        indirect=("Help me write an anniversary card, address it properly",),
        confusers=(
            "My best friend {v} is visiting next month",
            "My colleague {v} just got engaged",
        ),
    ),
    SingleTopic(
        key="birthday",
        values=("March 14", "July 2", "October 30", "January 9", "May 21", "August 17", "December 3"),
        statements=(
            "My birthday is on {v}, I usually take the day off",
            "Planning something small for my birthday, it's {v}",
        ),
        questions=("When is my birthday?", "What's my birthday?"),
        indirect=("How many weeks until I turn a year older?",),
        confusers=(
            "My mum's birthday is {v}, I need to find her a present",
            "My best friend's birthday is on {v}, we're planning a surprise",
        ),
    ),
    SingleTopic(
        key="commute",
        values=("cycle", "take the tram", "take the ferry", "walk", "ride my scooter", "take the train"),
        statements=(
            "I {v} to work every day, rain or shine",
            "Most mornings I {v} to the office, it takes about twenty minutes",
        ),
        questions=("How do I get to work?", "How do I commute?"),
        indirect=("Will tomorrow's rain mess up my way into the office?",),
        confusers=(
            "My sister has to {v} to work for an hour each way",
            "Half my team {v} to the office, they say it's relaxing",
        ),
    ),
    SingleTopic(
        key="book",
        values=(
            "Piranesi",
            "The Overstory",
            "Middlemarch",
            "Project Hail Mary",
            "Pachinko",
            "The Name of the Rose",
            "Braiding Sweetgrass",
            "The Left Hand of Darkness",
        ),
        statements=(
            "I'm reading {v} right now and I can't put it down",
            "Halfway through {v} at the moment, slow going but worth it",
        ),
        questions=("What book am I reading at the moment?", "Which book am I reading?"),
        indirect=("Recommend something similar to what I'm reading now",),
        confusers=(
            "My book club picked {v} for next month",
            "My partner keeps recommending {v} to me",
        ),
    ),
    SingleTopic(
        key="language",
        values=("Japanese", "Finnish", "Korean", "Greek", "Portuguese", "Polish", "Dutch", "Swahili"),
        statements=(
            "I'm learning {v} on the side, about fifteen minutes a day",
            "Been doing {v} lessons twice a week, my accent is terrible",
        ),
        questions=("Which language am I learning?", "What language am I studying?"),
        indirect=("Give me five useful phrases in the language I'm studying",),
        confusers=(
            "A friend of mine just started {v} classes",
            "My nephew is fluent in {v}, kids pick it up so fast",
        ),
    ),
    SingleTopic(
        key="car",
        values=(
            "an old Volvo estate",
            "a red Mini Cooper",
            "a Toyota Prius",
            "a Subaru Outback",
            "a VW camper van",
        ),
        statements=(
            "I drive {v}, it's falling apart but I love it",
            "Took {v} in for a service, that's my car, and the bill was huge",
        ),
        questions=("What car do I drive?", "What kind of car do I have?"),
        indirect=("How often should my car be serviced, given its model?",),
        confusers=(
            "My brother just bought {v}",
            "My neighbour drives {v} and parks it across our driveway",
        ),
    ),
    SingleTopic(
        key="daughter",
        values=("Ada", "Nora", "Zara", "Mila", "Freya", "Amara", "Lucia"),
        statements=(
            "My daughter {v} starts school in September",
            "{v}, my daughter, has decided she wants to be an astronaut",
        ),
        questions=("What's my daughter's name?", "What is my daughter called?"),
        indirect=("Help me write a note to my daughter's new teacher introducing her",),
        confusers=(
            "My niece {v} is staying with us this week",
            "My friend just had a baby girl called {v}",
        ),
    ),
    SingleTopic(
        key="thursday",
        values=("bouldering", "a pottery class", "salsa dancing", "chess club", "a choir rehearsal"),
        statements=(
            "Thursdays are for {v}, I never miss it",
            "I have {v} every Thursday evening",
        ),
        questions=("What do I do on Thursdays?", "What's my Thursday evening thing?"),
        indirect=("Am I free on Thursday evening for a work dinner?",),
        confusers=(
            "My flatmate keeps trying to drag me to {v}",
            "My colleague does {v} on Tuesdays and loves it",
        ),
    ),
    SingleTopic(
        key="dish",
        values=("ramen", "bacalhau", "pad see ew", "mushroom risotto", "jollof rice", "pierogi", "pho"),
        statements=(
            "My favourite food in the world is {v}",
            "If I could eat one thing forever it would be {v}",
        ),
        questions=("What's my favourite food?", "What food do I love most?"),
        indirect=("Pick a restaurant for my birthday dinner based on what I love to eat",),
        confusers=(
            "My partner's favourite food is {v}",
            "We had {v} at a work lunch, it was fine",
        ),
    ),
    SingleTopic(
        key="university",
        values=("Edinburgh", "Delft", "McGill", "Coimbra", "Uppsala", "Melbourne"),
        statements=(
            "I studied at {v}, best years of my life",
            "When I was a student at {v} I lived on instant noodles",
        ),
        questions=("Where did I go to university?", "Which university did I study at?"),
        indirect=("Should I go to my alumni reunion? Remind me where it would be",),
        confusers=(
            "My brother got into {v}, we're all very proud",
            "My manager did her PhD at {v}",
        ),
    ),
)
