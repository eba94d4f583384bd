//! Name frequencies for the synthetic population.
//!
//! Weights are rounded orders of magnitude from ISTAT's published statistics on the most common
//! surnames and on first names given at birth across recent decades; they are facts about
//! frequency, used only to make synthetic people look like a real population.

/// Italian surnames with relative weights (most frequent first).
pub const SURNAMES: &[(&str, u32)] = &[
    ("Rossi", 100), ("Russo", 70), ("Ferrari", 61), ("Esposito", 60), ("Bianchi", 50), ("Romano", 48), ("Colombo", 46),
    ("Ricci", 42), ("Marino", 41), ("Greco", 40), ("Bruno", 39), ("Gallo", 39), ("Conti", 37), ("De Luca", 37),
    ("Mancini", 36), ("Costa", 35), ("Giordano", 34), ("Rizzo", 34), ("Lombardi", 33), ("Moretti", 32), ("Barbieri", 30),
    ("Fontana", 30), ("Santoro", 29), ("Mariani", 29), ("Rinaldi", 28), ("Caruso", 28), ("Ferrara", 27), ("Galli", 27),
    ("Martini", 26), ("Leone", 26), ("Longo", 25), ("Gentile", 25), ("Martinelli", 24), ("Vitale", 24), ("Lombardo", 24),
    ("Serra", 23), ("Coppola", 23), ("De Santis", 22), ("D'Angelo", 22), ("Marchetti", 22), ("Parisi", 21), ("Villa", 21),
    ("Conte", 21), ("Ferraro", 21), ("Ferri", 20), ("Fabbri", 20), ("Bianco", 20), ("Marini", 20), ("Grasso", 19),
    ("Valentini", 19), ("Messina", 19), ("Sala", 18), ("De Angelis", 18), ("Gatti", 18), ("Pellegrini", 18), ("Palumbo", 18),
    ("Sanna", 18), ("Farina", 17), ("Rizzi", 17), ("Monti", 17), ("Cattaneo", 17), ("Morelli", 17), ("Amato", 17),
    ("Silvestri", 16), ("Mazza", 16), ("Testa", 16), ("Grassi", 16), ("Pellegrino", 16), ("Carbone", 16), ("Giuliani", 15),
    ("Benedetti", 15), ("Barone", 15), ("Rossetti", 15), ("Caputo", 15), ("Montanari", 15), ("Guerra", 14), ("Palmieri", 14),
    ("Bernardi", 14), ("Martino", 14), ("Fiore", 14), ("De Rosa", 14), ("Ferretti", 14), ("Bellini", 13), ("Basile", 13),
    ("Riva", 13), ("Donati", 13), ("Piras", 13), ("Vitali", 13), ("Battaglia", 13), ("Sartori", 12), ("Neri", 12),
    ("Costantini", 12), ("Milani", 12), ("Pagano", 12), ("Ruggiero", 12), ("Sorrentino", 12), ("D'Amico", 12), ("Orlando", 12),
    ("Damico", 3), ("Lo Russo", 3), ("Di Stefano", 8), ("La Rosa", 5), ("Dell'Acqua", 4), ("Fo", 1), ("Re", 1),
];

/// Italian male first names with weights.
pub const MALE: &[(&str, u32)] = &[
    ("Giuseppe", 100), ("Giovanni", 80), ("Antonio", 78), ("Mario", 60), ("Luigi", 50), ("Francesco", 62), ("Angelo", 38),
    ("Vincenzo", 37), ("Pietro", 33), ("Salvatore", 36), ("Carlo", 30), ("Franco", 28), ("Domenico", 27), ("Bruno", 24),
    ("Paolo", 30), ("Michele", 26), ("Giorgio", 24), ("Aldo", 14), ("Sergio", 20), ("Luciano", 18), ("Alessandro", 40),
    ("Andrea", 42), ("Marco", 40), ("Matteo", 30), ("Lorenzo", 28), ("Leonardo", 26), ("Luca", 34), ("Stefano", 28),
    ("Roberto", 30), ("Massimo", 24), ("Fabio", 22), ("Davide", 22), ("Simone", 22), ("Federico", 20), ("Riccardo", 18),
    ("Gabriele", 18), ("Tommaso", 16), ("Edoardo", 12), ("Mattia", 16), ("Emanuele", 14), ("Nicolò", 10), ("Gianfranco", 8),
    ("Pier Paolo", 5), ("Gian Luca", 4), ("Raffaele", 14), ("Claudio", 16), ("Enrico", 14), ("Filippo", 14), ("Diego", 10),
];

/// Italian female first names with weights.
pub const FEMALE: &[(&str, u32)] = &[
    ("Maria", 100), ("Anna", 70), ("Giuseppina", 40), ("Rosa", 36), ("Angela", 32), ("Giovanna", 32), ("Teresa", 26),
    ("Lucia", 26), ("Carmela", 22), ("Caterina", 20), ("Francesca", 40), ("Antonietta", 16), ("Carla", 16), ("Elena", 26),
    ("Concetta", 14), ("Rita", 14), ("Margherita", 14), ("Franca", 14), ("Paola", 26), ("Laura", 28), ("Giulia", 34),
    ("Sofia", 30), ("Aurora", 20), ("Alice", 20), ("Ginevra", 14), ("Emma", 16), ("Giorgia", 20), ("Martina", 24),
    ("Chiara", 26), ("Sara", 26), ("Valentina", 24), ("Alessandra", 22), ("Silvia", 22), ("Federica", 18), ("Elisa", 18),
    ("Roberta", 16), ("Monica", 16), ("Barbara", 14), ("Simona", 14), ("Cristina", 16), ("Daniela", 16), ("Beatrice", 14),
    ("Noemi", 8), ("Anna Maria", 12), ("Maria Grazia", 8), ("Nicoletta", 6), ("Ilaria", 12), ("Irene", 12), ("Marta", 12),
];

/// Foreign communities resident in Italy: citizenship `Z` code, weight, surnames, male and
/// female names, and a few birth localities.
#[derive(Debug)]
pub struct Community {
    /// `Z` code of the state of citizenship.
    pub state: &'static str,
    /// Relative size.
    pub weight: u32,
    /// Common surnames.
    pub surnames: &'static [&'static str],
    /// Common male names.
    pub male: &'static [&'static str],
    /// Common female names.
    pub female: &'static [&'static str],
    /// Birth localities.
    pub localities: &'static [&'static str],
    /// Whether an EU citizen (no residence permit).
    pub eu: bool,
}

/// The largest foreign communities (ISTAT, residents by citizenship), in rounded proportions.
pub const COMMUNITIES: &[Community] = &[
    Community { state: "Z129", weight: 21, surnames: &["Popescu", "Ionescu", "Popa", "Stan", "Dumitru", "Constantin"], male: &["Ion", "Andrei", "Mihai", "Florin", "Alexandru"], female: &["Maria", "Elena", "Ioana", "Andreea", "Mihaela"], localities: &["Bucuresti", "Iasi", "Bacau", "Suceava"], eu: true },
    Community { state: "Z100", weight: 8, surnames: &["Hoxha", "Shehu", "Dervishi", "Leka", "Gjoka"], male: &["Arben", "Erion", "Besnik", "Ilir"], female: &["Elona", "Arta", "Blerina", "Klodiana"], localities: &["Tirane", "Durres", "Valona", "Scutari"], eu: false },
    Community { state: "Z330", weight: 8, surnames: &["El Amrani", "Benali", "Bouazza", "El Idrissi", "Ouali"], male: &["Mohamed", "Youssef", "Hassan", "Rachid"], female: &["Fatima", "Khadija", "Amina", "Salma"], localities: &["Casablanca", "Marrakech", "Khouribga", "Fes"], eu: false },
    Community { state: "Z210", weight: 6, surnames: &["Chen", "Hu", "Zhou", "Wang", "Lin"], male: &["Wei", "Jun", "Hao", "Lei"], female: &["Li", "Xiu", "Mei", "Yan"], localities: &["Wenzhou", "Qingtian", "Fuzhou"], eu: false },
    Community { state: "Z138", weight: 4, surnames: &["Shevchenko", "Kovalenko", "Bondarenko", "Tkachenko"], male: &["Oleksandr", "Andriy", "Serhiy"], female: &["Olena", "Natalia", "Oksana", "Iryna"], localities: &["Kyiv", "Lviv", "Ternopil"], eu: false },
    Community { state: "Z222", weight: 3, surnames: &["Singh", "Kaur", "Kumar", "Sharma"], male: &["Gurpreet", "Harpreet", "Rajesh"], female: &["Manpreet", "Simran", "Priya"], localities: &["Amritsar", "Jalandhar", "Ludhiana"], eu: false },
    Community { state: "Z216", weight: 3, surnames: &["Santos", "Reyes", "Cruz", "Bautista"], male: &["Jose", "Mark", "John Paul"], female: &["Maricel", "Rowena", "Jocelyn"], localities: &["Manila", "Quezon City", "Batangas"], eu: false },
    Community { state: "Z249", weight: 3, surnames: &["Hossain", "Rahman", "Islam", "Ahmed"], male: &["Mohammad", "Abdul", "Rafiq"], female: &["Nasrin", "Fatema", "Rina"], localities: &["Dhaka", "Sylhet", "Chittagong"], eu: false },
    Community { state: "Z336", weight: 3, surnames: &["Ibrahim", "Hassan", "Mahmoud", "Abdelrahman"], male: &["Ahmed", "Mahmoud", "Mostafa"], female: &["Mona", "Heba", "Nour"], localities: &["Il Cairo", "Alessandria", "Giza"], eu: false },
    Community { state: "Z236", weight: 3, surnames: &["Khan", "Ali", "Butt", "Malik"], male: &["Imran", "Asif", "Bilal"], female: &["Ayesha", "Sana", "Zainab"], localities: &["Lahore", "Gujrat", "Karachi"], eu: false },
    Community { state: "Z148", weight: 1, surnames: &["Stojanovski", "Nikolovski", "Trajkovski"], male: &["Goran", "Dragan", "Zoran"], female: &["Marija", "Elena", "Ana"], localities: &["Skopje", "Tetovo"], eu: false },
];

/// Streets that exist in most Italian towns.
pub const TOPONYMS: &[(&str, &str)] = &[
    ("VIA", "ROMA"), ("VIA", "GIUSEPPE GARIBALDI"), ("VIA", "GIUSEPPE MAZZINI"), ("VIA", "CAMILLO BENSO DI CAVOUR"), ("VIA", "DANTE ALIGHIERI"),
    ("VIA", "GIUSEPPE VERDI"), ("VIA", "GUGLIELMO MARCONI"), ("VIA", "GIACOMO MATTEOTTI"), ("CORSO", "VITTORIO EMANUELE II"),
    ("VIA", "XX SETTEMBRE"), ("VIA", "IV NOVEMBRE"), ("PIAZZA", "DELLA REPUBBLICA"), ("VIA", "ALESSANDRO MANZONI"),
    ("VIALE", "DELLA VITTORIA"), ("VIA", "DEI MILLE"), ("VIA", "ANTONIO GRAMSCI"), ("VIA", "SAN FRANCESCO"), ("VIA", "DEL CASTELLO"),
    ("PIAZZA", "DEL MUNICIPIO"), ("VIA", "DELLA STAZIONE"), ("VIA", "PAPA GIOVANNI XXIII"), ("VIA", "ALDO MORO"), ("VIA", "DON MINZONI"),
    ("VICOLO", "STRETTO"), ("VIA", "DELLE ROSE"), ("STRADA", "PROVINCIALE"), ("LARGO", "ITALIA"),
];

/// Places of residence abroad for AIRE records: `Z` code, weight, localities.
pub const AIRE_DESTINATIONS: &[(&str, u32, &[&str])] = &[
    ("Z600", 16, &["Buenos Aires", "Rosario", "Cordoba", "Mar del Plata"]),
    ("Z112", 14, &["Berlin", "Munchen", "Stuttgart", "Koln", "Frankfurt am Main"]),
    ("Z133", 10, &["Zurich", "Geneve", "Basel", "Lugano"]),
    ("Z110", 8, &["Paris", "Lyon", "Marseille", "Nice"]),
    ("Z602", 9, &["Sao Paulo", "Rio de Janeiro", "Curitiba"]),
    ("Z103", 5, &["Bruxelles", "Liege", "Charleroi"]),
    ("Z114", 8, &["London", "Manchester", "Edinburgh"]),
    ("Z404", 5, &["New York", "Boston", "Chicago"]),
    ("Z700", 3, &["Sydney", "Melbourne", "Adelaide"]),
    ("Z131", 5, &["Madrid", "Barcelona", "Valencia"]),
    ("Z401", 3, &["Toronto", "Montreal"]),
];

/// Comuni where many births are registered (large hospitals), by Belfiore code.
pub const BIG_CITIES: &[(&str, u32)] = &[
    ("H501", 28), ("F205", 14), ("F839", 10), ("L219", 9), ("G273", 6), ("D969", 6), ("A944", 4), ("D612", 4), ("A662", 3),
    ("C351", 3), ("L736", 3), ("L781", 3), ("F158", 2), ("L424", 2), ("G224", 2), ("A952", 2),
];
